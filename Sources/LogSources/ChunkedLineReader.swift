import CZlib
import Foundation

/// Reads a file, a gzip file or standard input and hands over the bytes as chunks of whole
/// lines, in order, without copying them line by line. This is the fast path of `casewatch scan`.
///
/// A line longer than `maxLineLength` is handed over alone, cut at that length with
/// `truncated` set; the rest of it is skipped up to its newline, and reading goes on with the
/// next line. Nothing after a long line is lost.
public struct ChunkedLineReader: ~Copyable {
    /// One read's worth of whole lines.
    public struct Chunk {
        /// The lines, `\n`-separated; the last has no `\n` only at the end of the input. The
        /// consumer may rewrite the bytes in place (and use fewer of them).
        public var bytes: UnsafeMutableRawBufferPointer
        /// The 1-based number of the first line in the chunk.
        public var firstLine: Int
        /// The chunk is one line that was cut at `maxLineLength`.
        public var truncated: Bool
    }

    public static let defaultChunkSize = 256 * 1024
    public static let defaultMaxLineLength = 1024 * 1024

    private enum Input {
        case descriptor(Int32, close: Bool)
        case gzip(gzFile)
    }

    /// `-` for standard input, otherwise the path.
    public let name: String
    private let input: Input
    private let buffer: UnsafeMutableRawBufferPointer
    private let chunkSize: Int
    public let maxLineLength: Int

    /// Opens `path` (`-` is standard input). A file that starts with the gzip magic bytes is
    /// decompressed, whatever its name.
    public init(path: String, chunkSize: Int = defaultChunkSize, maxLineLength: Int = defaultMaxLineLength) throws(LogSourceError) {
        name = path
        self.chunkSize = chunkSize
        self.maxLineLength = maxLineLength
        if path == "-" {
            input = .descriptor(0, close: false)
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = errno
                throw LogSourceError(.open, source: path, "Failed to open: \(String(cString: strerror(e)))", errno: e)
            }
            var magic: (UInt8, UInt8) = (0, 0)
            let n = pread(fd, &magic, 2, 0)
            if n == 2 && magic.0 == 0x1F && magic.1 == 0x8B {
                guard let gz = gzdopen(fd, "rb") else {
                    close(fd)
                    throw LogSourceError(.open, source: path, "Failed to open gzip stream")
                }
                gzbuffer(gz, 128 * 1024)
                input = .gzip(gz)
            } else {
                input = .descriptor(fd, close: true)
            }
        }
        buffer = .allocate(byteCount: max(chunkSize, maxLineLength) + chunkSize, alignment: 64)
    }

    deinit {
        switch input {
        case .descriptor(let fd, let shouldClose): if shouldClose { close(fd) }
        case .gzip(let gz): gzclose(gz)
        }
        buffer.deallocate()
    }

    private func read(into p: UnsafeMutableRawPointer, _ count: Int) throws(LogSourceError) -> Int {
        while true {
            switch input {
            case .descriptor(let fd, _):
                let n = Foundation.read(fd, p, count)
                if n >= 0 { return n }
                if errno == EINTR { continue }
                let e = errno
                throw LogSourceError(.read, source: name, "Failed to read: \(String(cString: strerror(e)))", errno: e)
            case .gzip(let gz):
                let n = gzread(gz, p, UInt32(min(count, Int(Int32.max))))
                if n >= 0 { return Int(n) }
                var code: Int32 = 0
                let message = gzerror(gz, &code).map { String(cString: $0) } ?? "unknown error"
                throw LogSourceError(.read, source: name, "Failed to decompress: \(message)")
            }
        }
    }

    /// Reads to the end, calling `body` for every chunk.
    public mutating func forEachChunk(_ body: (inout Chunk) throws -> Void) throws {
        let base = buffer.baseAddress!
        var filled = 0
        var nextLine = 1
        var skipping = false  // inside the rest of a truncated line
        let readSize = chunkSize
        while true {
            let room = min(readSize, buffer.count - filled)
            let n = try read(into: base + filled, room)
            if n == 0 { break }
            var start = filled
            filled += n
            if skipping {
                guard let nl = memchr(base + start, 0x0A, filled - start) else {
                    filled = 0
                    continue
                }
                let after = base.distance(to: nl) + 1
                memmove(base, base + after, filled - after)
                filled -= after
                start = 0
                skipping = false
            }
            guard filled > 0 else { continue }
            if let nl = lastNewline(base, from: start, to: filled) {
                let end = nl + 1
                var chunk = Chunk(bytes: UnsafeMutableRawBufferPointer(start: base, count: end), firstLine: nextLine, truncated: false)
                nextLine += countNewlines(UnsafeRawBufferPointer(start: base, count: end))
                try body(&chunk)
                memmove(base, base + end, filled - end)
                filled -= end
            }
            if filled >= maxLineLength {
                var chunk = Chunk(
                    bytes: UnsafeMutableRawBufferPointer(start: base, count: maxLineLength), firstLine: nextLine,
                    truncated: true)
                nextLine += 1
                try body(&chunk)
                // The rest of this line, up to its newline, is not matched.
                let rest = filled - maxLineLength
                if let nl = memchr(base + maxLineLength, 0x0A, rest) {
                    let after = base.distance(to: nl) + 1
                    memmove(base, base + after, filled - after)
                    filled -= after
                } else {
                    filled = 0
                    skipping = true
                }
            }
        }
        if filled > 0 && !skipping {
            var chunk = Chunk(bytes: UnsafeMutableRawBufferPointer(start: base, count: filled), firstLine: nextLine, truncated: false)
            try body(&chunk)
        }
    }
}

/// The offset of the last `\n` in `base[from..<to]`. Lines are short, so it is near the end.
func lastNewline(_ base: UnsafeMutableRawPointer, from: Int, to: Int) -> Int? {
    let b = base.assumingMemoryBound(to: UInt8.self)
    var i = to - 1
    while i >= from {
        if b[i] == 0x0A { return i }
        i -= 1
    }
    return nil
}

/// Counts `\n` bytes, 32 at a time: a lane of the comparison mask is -1 where the byte is a
/// newline, so subtracting masks counts them (at most 255 rounds before the lanes are summed).
public func countNewlines(_ bytes: UnsafeRawBufferPointer) -> Int {
    var total = 0
    var i = 0
    let n = bytes.count
    let newline = SIMD32<UInt8>(repeating: 0x0A)
    while i + 32 <= n {
        var acc = SIMD32<UInt8>()
        var rounds = 0
        while rounds < 255 && i + 32 <= n {
            let v = bytes.loadUnaligned(fromByteOffset: i, as: SIMD32<UInt8>.self)
            acc &-= unsafeBitCast(v .== newline, to: SIMD32<UInt8>.self)
            i += 32
            rounds += 1
        }
        total += sum(acc)
    }
    while i < n {
        if bytes[i] == 0x0A { total += 1 }
        i += 1
    }
    return total
}

@inline(__always)
private func sum(_ v: SIMD32<UInt8>) -> Int {
    // Widen before adding: 32 lanes of up to 255 overflow a byte.
    let low = SIMD16<UInt16>(truncatingIfNeeded: v.lowHalf), high = SIMD16<UInt16>(truncatingIfNeeded: v.highHalf)
    return Int((low &+ high).wrappedSum())
}
