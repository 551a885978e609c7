import Foundation

/// Cleans a chunk of log lines in place before matching: removes ANSI escape sequences (the
/// colours Bitnami images and many CLIs print) and the `\r` of CRLF line ends. Returns the new
/// length. Costs one `memchr` per byte class when the chunk has neither (the common case).
///
/// A `\r` is removed when nothing but escape sequences and other `\r`s lies between it and the
/// end of its line (`status: failed\r\e[0m\n`), so `$` matches where the text ends. A `\r`
/// followed by text on the same line (a progress bar redrawing itself) is kept.
public enum LineSanitizer {
    public static func sanitize(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let hasEscape = memchr(base, 0x1B, buffer.count) != nil
        let hasCR = memchr(base, 0x0D, buffer.count) != nil
        if !hasEscape && !hasCR { return buffer.count }
        let b = buffer.bindMemory(to: UInt8.self)
        var read = 0, write = 0
        let n = b.count
        // The `\r`s before `decidedUntil` share one answer: they lie in the same run of `\r`s
        // and escapes, which is walked once, not once per `\r`.
        var decidedUntil = 0, dropCR = false
        while read < n {
            let c = b[read]
            if c == 0x1B {
                read = skipEscape(b, from: read)
                continue
            }
            if c == 0x0D {
                if read >= decidedUntil {
                    decidedUntil = read + 1
                    while decidedUntil < n && (b[decidedUntil] == 0x0D || b[decidedUntil] == 0x1B) {
                        decidedUntil = b[decidedUntil] == 0x0D ? decidedUntil + 1 : skipEscape(b, from: decidedUntil)
                    }
                    dropCR = decidedUntil == n || b[decidedUntil] == 0x0A
                }
                if dropCR {
                    read += 1
                    continue
                }
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
