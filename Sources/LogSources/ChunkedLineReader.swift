import CZlib
import Foundation

/// Reads a file, a gzip file or standard input and hands over the bytes as chunks of whole
/// lines, in order, without copying them line by line. This is the fast path of `casewatch scan`.
///
/// A line is cut if and only if it is longer than `maxLineLength` bytes (its `\n` not
/// counted): then exactly its first `maxLineLength` bytes are handed over alone, with
/// `truncated` set; the rest of it is skipped up to its newline, and reading goes on with the
/// next line. Nothing after a long line is lost, and a line of `maxLineLength` bytes or fewer
/// is always handed over whole: where the reads happen to split the input changes how lines
/// are grouped into chunks, never their bytes, numbers or flags.
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
    /// Holds a partial line of up to `maxLineLength` bytes and one read after it.
    private let buffer: UnsafeMutableRawBufferPointer
    private let chunkSize: Int
    public let maxLineLength: Int
    /// For tests: when not empty, the n-th read asks for at most `readSizes[n % count]` bytes,
    /// as a pipe that delivers the input in pieces would.
    var readSizes: [Int] = []

    /// Opens `path` (`-` is standard input). A file that starts with the gzip magic bytes is
    /// decompressed, whatever its name. `chunkSize` (the most bytes one read asks for) and
    /// `maxLineLength` must be at least 1.
    public init(path: String, chunkSize: Int = defaultChunkSize, maxLineLength: Int = defaultMaxLineLength) throws(LogSourceError) {
        // Every throw leaves the same fields set (a noncopyable value cannot be partly set in
        // different ways), so these three come first.
        name = path
        self.chunkSize = chunkSize
        self.maxLineLength = maxLineLength
        guard maxLineLength >= 1 else {
            throw LogSourceError(.invalidArgument, source: path, "max line length must be at least 1 byte, got \(maxLineLength)")
        }
        guard chunkSize >= 1 else {
            throw LogSourceError(.invalidArgument, source: path, "chunk size must be at least 1 byte, got \(chunkSize)")
        }
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
        buffer = .allocate(byteCount: maxLineLength + chunkSize, alignment: 64)
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
        // `base[0..<filled]` is input not handed over yet; it starts at the start of a line
        // unless `skipping`, and holds no `\n` between reads (a partial line).
        var filled = 0
        var nextLine = 1
        var skipping = false  // inside the rest of a truncated line
        var reads = 0
        while true {
            var room = min(chunkSize, buffer.count - filled)
            if !readSizes.isEmpty { room = min(room, max(readSizes[reads % readSizes.count], 1)) }
            reads += 1
            let n = try read(into: base + filled, room)
            if n == 0 { break }
            filled += n
            var start = 0
            if skipping {
                guard let nl = memchr(base, 0x0A, filled) else {
                    filled = 0
                    continue
                }
                start = base.distance(to: nl) + 1
                skipping = false
            }
            if let nl = lastNewline(base, from: start, to: filled) {
                try handOver(start..<nl + 1, &nextLine, body)
                start = nl + 1
            }
            // The partial line: longer than the cap already, it is cut now, whatever follows.
            if filled - start > maxLineLength {
                try handOverCut(start, &nextLine, body)
                start = filled
                skipping = true
            }
            memmove(base, base + start, filled - start)
            filled -= start
        }
        if filled > 0 && !skipping {
            try handOver(0..<filled, &nextLine, body)
        }
    }

    /// Hands over whole lines (`range` ends with a `\n`, or at the end of the input), in as few
    /// chunks as the lines longer than the cap allow.
    private func handOver(_ range: Range<Int>, _ nextLine: inout Int, _ body: (inout Chunk) throws -> Void) throws {
        let base = buffer.baseAddress!
        func whole(_ lines: Range<Int>) throws {
            guard !lines.isEmpty else { return }
            let bytes = UnsafeMutableRawBufferPointer(start: base + lines.lowerBound, count: lines.count)
            var chunk = Chunk(bytes: bytes, firstLine: nextLine, truncated: false)
            // Counted before `body`, which may rewrite the bytes.
            nextLine += countNewlines(UnsafeRawBufferPointer(bytes))
            try body(&chunk)
        }
        // The common case: too short to hold a line longer than the cap.
        if range.count <= maxLineLength + 1 { return try whole(range) }
        var run = range.lowerBound, line = range.lowerBound
        while line < range.upperBound {
            let end = memchr(base + line, 0x0A, range.upperBound - line).map { base.distance(to: $0) } ?? range.upperBound
            if end - line > maxLineLength {
                try whole(run..<line)
                try handOverCut(line, &nextLine, body)
                run = min(end + 1, range.upperBound)
            }
            line = end + 1
        }
        try whole(run..<range.upperBound)
    }

    /// Hands over the first `maxLineLength` bytes of the line at `start`, marked truncated.
    private func handOverCut(_ start: Int, _ nextLine: inout Int, _ body: (inout Chunk) throws -> Void) throws {
        let bytes = UnsafeMutableRawBufferPointer(start: buffer.baseAddress! + start, count: maxLineLength)
        var chunk = Chunk(bytes: bytes, firstLine: nextLine, truncated: true)
        nextLine += 1
        try body(&chunk)
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
