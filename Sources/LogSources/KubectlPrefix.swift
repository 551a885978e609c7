import CaseCatalog
import Foundation

/// Lines in the form `kubectl logs --prefix` prints: `[pod/NAME/CONTAINER] text`, and with
/// `--timestamps` `[pod/NAME/CONTAINER] 2024-05-01T10:11:12.123456789Z text`. The prefix and
/// the timestamp are not part of the matched text; they set the record's pod, container, time
/// and stream position.
///
/// casewatch's own form adds the namespace, which kubectl's prefix leaves out:
/// `[pod/NAMESPACE/NAME/CONTAINER]`, where NAME and CONTAINER may be empty for a line of the
/// whole pod (`[pod/blueking/bk-repo-0/]`: its status, its events) or of the namespace
/// (`[pod/blueking//]`). `casewatch triage --output-dir` writes it, so `scan` gives its files the
/// origins triage gave them. Kubernetes names hold no `/`, so the two forms cannot be confused.
public enum KubectlPrefix {
    private static let marker = Array("[pod/".utf8)

    /// Whether the chunk is `--prefix` output: kubectl prefixes every line, so the first line
    /// decides, at no cost for the other lines of a plain log.
    public static func present(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard let base = chunk.baseAddress, chunk.count > marker.count else { return false }
        return memcmp(base, marker, marker.count) == 0
    }

    /// The parts of one line: pod, container, timestamp text, and where the text starts.
    public struct Parsed {
        /// Empty in casewatch's form for a line of the namespace.
        public var pod: String
        /// Empty in casewatch's form for a line of the whole pod.
        public var container: String
        /// Only in casewatch's form.
        public var namespace: String? = nil
        public var timestamp: String?
        public var time: Double?
        public var textStart: Int
    }

    /// Parses the prefix (and a timestamp after it) of one line, or nil when it has none.
    public static func parse(_ line: UnsafeRawBufferPointer) -> Parsed? {
        guard line.count > marker.count, line.starts(with: marker) else { return nil }
        // Up to three `/`-separated names, then `]`.
        var i = marker.count
        var parts: [Range<Int>] = []
        var start = i
        while i < line.count, line[i] != UInt8(ascii: "]"), line[i] != 0x20, parts.count < 3 {
            if line[i] == UInt8(ascii: "/") {
                parts.append(start..<i)
                start = i + 1
            }
            i += 1
        }
        guard i < line.count, line[i] == UInt8(ascii: "]") else { return nil }
        parts.append(start..<i)
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: line[r]), as: UTF8.self) }
        let namespace: String?
        let pod: String, container: String
        switch parts.count {
        case 2:  // kubectl's own: both names present
            guard !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            namespace = nil
            pod = text(parts[0])
            container = text(parts[1])
        case 3:  // casewatch's: the namespace first; a container only with a pod
            guard !parts[0].isEmpty, !(parts[1].isEmpty && !parts[2].isEmpty) else { return nil }
            namespace = text(parts[0])
            pod = text(parts[1])
            container = text(parts[2])
        default:
            return nil
        }
        i += 1
        if i < line.count, line[i] == 0x20 { i += 1 }
        var parsed = Parsed(pod: pod, container: container, namespace: namespace, timestamp: nil, time: nil, textStart: i)
        // An RFC 3339 timestamp, then one space.
        var j = i
        while j < line.count, line[j] != 0x20, j - i < 40 { j += 1 }
        if j < line.count, line[j] == 0x20, j - i >= 20 {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[i..<j]), as: UTF8.self)
            if let t = rfc3339(text) {
                parsed.timestamp = text
                parsed.time = t
                parsed.textStart = j + 1
            }
        }
        return parsed
    }

    /// Appends the lines of `chunk` to `batch`, one segment per line, with the pod and container
    /// of its prefix (lines without a prefix keep `base`).
    public static func split(
        _ chunk: UnsafeRawBufferPointer, into batch: RecordBatch, base: Origin, firstLine: Int, time: Double,
        truncatedAt: Int?
    ) {
        var start = 0
        var number = firstLine
        while start < chunk.count {
            var end = start
            while end < chunk.count && chunk[end] != 0x0A { end += 1 }
            let line = UnsafeRawBufferPointer(rebasing: chunk[start..<end])
            var origin = base
            var textStart = 0
            var lineTime = time
            var position = RecordPosition.none
            if let p = parse(line) {
                if let ns = p.namespace { origin.namespace = ns }
                origin.pod = p.pod.isEmpty ? nil : p.pod
                origin.container = p.container.isEmpty ? nil : p.container
                origin.name = [origin.namespace, origin.pod, origin.container].compactMap { $0 }.joined(separator: "/")
                origin.kind = .kubectl
                textStart = p.textStart
                if let t = p.time, let ts = p.timestamp {
                    lineTime = t
                    position = .stream(timestamp: ts)
                }
            }
            batch.append(
                UnsafeRawBufferPointer(rebasing: line[textStart...]), origin: origin, firstLine: number, time: lineTime,
                truncatedAt: truncatedAt, end: position)
            number += 1
            start = end + 1
        }
    }

    /// Seconds since the epoch of an RFC 3339 time (`2024-05-01T10:11:12.123456789Z`, or with
    /// an offset such as `+08:00`), or nil.
    public static func rfc3339(_ s: String) -> Double? {
        let b = Array(s.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for k in at..<at + n {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            return v
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2),
            b[7] == UInt8(ascii: "-"), let day = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            let hour = digits(11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
            b[16] == UInt8(ascii: ":"), let second = digits(17, 2)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = digits(i + 1, 2), i + 3 < b.count,
            b[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2)
        {
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts) - offset) + fraction
    }
}
