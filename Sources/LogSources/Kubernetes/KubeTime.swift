import Foundation

/// RFC 3339 times as Kubernetes writes them (`2026-11-30T07:01:13.123456789Z`, the fraction
/// optional and without trailing zeros as Go's RFC3339Nano prints it), as nanoseconds since the
/// epoch, parsed without Foundation's formatters (a log line costs one parse).
public enum KubeTime {
    /// Nanoseconds since the epoch, or nil when `bytes` is not a UTC RFC 3339 time.
    public static func nanos<C: Collection<UInt8>>(_ bytes: C) -> Int64? where C.Index == Int {
        guard bytes.count >= 20 else { return nil }
        let b = bytes.startIndex
        func digits(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<from + count {
                let c = bytes[b + i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        guard bytes[b + 4] == 0x2D, bytes[b + 7] == 0x2D, bytes[b + 10] == 0x54 || bytes[b + 10] == 0x74, bytes[b + 13] == 0x3A, bytes[b + 16] == 0x3A,
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
            let minute = digits(14, 2), let second = digits(17, 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < bytes.count && bytes[b + i] == 0x2E {
            i += 1
            var n = 0
            while i < bytes.count, bytes[b + i] >= 0x30 && bytes[b + i] <= 0x39 {
                if n < 9 { fraction = fraction * 10 + Int64(bytes[b + i] - 0x30) }
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
            for _ in n..<max(n, 9) { fraction *= 10 }
        }
        var offset: Int64 = 0
        guard i < bytes.count else { return nil }
        if bytes[b + i] == 0x5A || bytes[b + i] == 0x7A {
            i += 1
        } else if bytes[b + i] == 0x2B || bytes[b + i] == 0x2D, i + 6 <= bytes.count, let h = digits(i + 1, 2), let m = digits(i + 4, 2) {
            offset = (h * 3600 + m * 60) * (bytes[b + i] == 0x2B ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == bytes.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return seconds * 1_000_000_000 + fraction
    }

    public static func nanos(_ text: String) -> Int64? {
        nanos(Array(text.utf8))
    }

    /// `2026-11-30T07:01:13.123456789Z` (always nine digits).
    public static func format(_ nanos: Int64) -> String {
        let seconds = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        let fraction = nanos - seconds * 1_000_000_000
        return formatSeconds(seconds, fraction: fraction)
    }

    /// `2026-11-30T07:01:13Z`: whole seconds, as `--since-time` is sent to the API server.
    public static func formatWholeSeconds(_ nanos: Int64) -> String {
        let seconds = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        return formatSeconds(seconds, fraction: nil)
    }

    static func formatSeconds(_ seconds: Int64, fraction: Int64?) -> String {
        var days = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 {
            rest += 86400
            days -= 1
        }
        let (y, m, d) = civilFromDays(days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var s = "\(y)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))"
        if let fraction {
            let f = String(fraction)
            s += "." + String(repeating: "0", count: 9 - f.count) + f
        }
        return s + "Z"
    }

    // Howard Hinnant's civil calendar algorithms.
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// A short age as kubectl prints it: `45s`, `3m12s`, `5m`, `2h10m`, `3d`.
    public static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        if s < 600 { return s % 60 == 0 ? "\(s / 60)m" : "\(s / 60)m\(s % 60)s" }
        if s < 3 * 3600 { return "\(s / 60)m" }
        if s < 8 * 3600 { return s / 60 % 60 == 0 ? "\(s / 3600)h" : "\(s / 3600)h\(s / 60 % 60)m" }
        if s < 48 * 3600 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}
