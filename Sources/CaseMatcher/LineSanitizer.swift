import Foundation

/// Cleans a chunk of log lines in place before matching: removes ANSI escape sequences (the
/// colours Bitnami images and many CLIs print) and the `\r` of CRLF line ends. Returns the new
/// length. Costs one `memchr` per byte class when the chunk has neither (the common case).
public enum LineSanitizer {
    public static func sanitize(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let hasEscape = memchr(base, 0x1B, buffer.count) != nil
        let hasCR = memchr(base, 0x0D, buffer.count) != nil
        if !hasEscape && !hasCR { return buffer.count }
        let b = buffer.bindMemory(to: UInt8.self)
        var read = 0, write = 0
        let n = b.count
        while read < n {
            let c = b[read]
            if c == 0x1B {
                read = skipEscape(b, from: read)
                continue
            }
            if c == 0x0D && (read + 1 == n || b[read + 1] == 0x0A) {
                read += 1
                continue
            }
            b[write] = c
            write += 1
            read += 1
        }
        return write
    }

    /// Skips one escape sequence starting at `i` (ESC); never past the end of the line.
    private static func skipEscape(_ b: UnsafeMutableBufferPointer<UInt8>, from i: Int) -> Int {
        var j = i + 1
        guard j < b.count else { return j }
        switch b[j] {
        case UInt8(ascii: "["):
            // CSI: parameter bytes 0x30–0x3F, intermediate bytes 0x20–0x2F, one final byte 0x40–0x7E.
            j += 1
            while j < b.count, (0x30...0x3F).contains(b[j]) { j += 1 }
            while j < b.count, (0x20...0x2F).contains(b[j]) { j += 1 }
            if j < b.count, (0x40...0x7E).contains(b[j]) { j += 1 }
            return j
        case UInt8(ascii: "]"):
            // OSC: up to BEL or ESC \, or the end of the line.
            j += 1
            while j < b.count, b[j] != 0x07, b[j] != 0x0A {
                if b[j] == 0x1B, j + 1 < b.count, b[j + 1] == UInt8(ascii: "\\") { return j + 2 }
                j += 1
            }
            return j < b.count && b[j] == 0x07 ? j + 1 : j
        case 0x0A:
            return j
        default:
            // Two-byte escapes (ESC c, ESC =, ESC ( B is three: charset designation).
            if (0x28...0x2F).contains(b[j]), j + 1 < b.count, b[j + 1] != 0x0A { return j + 2 }
            return j + 1
        }
    }
}
