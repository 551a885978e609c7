import CaseCatalog
import Foundation

/// Where a source can resume reading after a record. Opaque to everything but its source.
public enum RecordPosition: Sendable, Hashable, Codable {
    case none
    /// The number of the last line read from an input that cannot seek (standard input).
    case line(Int)
    /// A file: device, inode and the offset just after the record; the fingerprint of the file's
    /// first bytes (to tell a reused inode from the file it was) and the number of lines before
    /// the offset. Both are optional: positions saved before they existed still decode.
    case file(device: UInt64, inode: UInt64, offset: UInt64, fingerprint: FileFingerprint? = nil, lines: Int? = nil)
    /// The journal cursor of the record's entry.
    case journal(cursor: String)
    /// A pod log stream: the RFC 3339 timestamp kubectl printed before the line.
    case stream(timestamp: String)
}

/// A systemd boot id (128 bits), kept as two words so a record carries it without allocating.
public struct BootID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 lowercase hex digits, as `_BOOT_ID` and `journalctl --list-boots` show it.
    public var description: String {
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(high) + hex(low)
    }
}

/// Many log records in one contiguous buffer, so the matcher scans them with one call however
/// they arrived (a file chunk of thousands of lines, or journal entries one by one).
///
/// The records are grouped in **segments**: consecutive lines with the same origin, read at the
/// same time from the same source, every line ending in `\n`. A file chunk is one segment; a
/// journal entry is one segment. Per-line data (line number, byte offset) is derived from the
/// segment, so a segment of thousands of lines costs no more bookkeeping than one line.
///
/// The batch owns its buffer and is reused: `removeAll()` keeps the capacity, so a steady stream
/// of records allocates nothing once the buffer has grown to its working size.
public final class RecordBatch {
    public struct Segment: Sendable {
        /// The segment's bytes in the batch: whole lines, each ending in `\n`.
        public var range: Range<Int>
        public var origin: Origin
        /// 1-based number of the segment's first line in its stream (0: not numbered).
        public var firstLine: Int
        /// Seconds since the epoch: the source's own time of the records, else the read time.
        public var time: Double
        /// The segment is one line cut at the reader's line-length cap: this many bytes were kept.
        public var truncatedAt: Int?
        /// Where the source resumes after the segment's last line.
        public var end: RecordPosition
        /// The syslog priority of the record, 0 (emerg) ... 7 (debug); -1 when the source has none.
        public var priority: Int8 = -1
        /// The boot the record was written in (journal records), else nil.
        public var bootID: BootID?

        public init(range: Range<Int>, origin: Origin, firstLine: Int, time: Double, truncatedAt: Int? = nil, end: RecordPosition) {
            self.range = range
            self.origin = origin
            self.firstLine = firstLine
            self.time = time
            self.truncatedAt = truncatedAt
            self.end = end
        }
    }

    public private(set) var storage: UnsafeMutableRawBufferPointer
    /// The buffer is the batch's own (not borrowed with `borrow`).
    private var owned: UnsafeMutableRawBufferPointer
    /// Bytes in use.
    public private(set) var count = 0
    public private(set) var segments: [Segment] = []

    public init(capacity: Int = 64 * 1024) {
        owned = .allocate(byteCount: max(capacity, 64), alignment: 64)
        storage = owned
        segments.reserveCapacity(64)
    }

    deinit { owned.deallocate() }

    /// Makes the batch one segment over bytes it does not own (a reader's chunk: no copy). The
    /// bytes must stay valid, and may be rewritten by the matcher, until `removeAll()`.
    public func borrow(
        _ lines: UnsafeMutableRawBufferPointer, origin: Origin, firstLine: Int, time: Double,
        truncatedAt: Int? = nil, end: RecordPosition
    ) {
        precondition(segments.isEmpty, "borrow needs an empty batch")
        storage = lines
        count = lines.count
        segments.append(Segment(range: 0..<lines.count, origin: origin, firstLine: firstLine, time: time, truncatedAt: truncatedAt, end: end))
    }

    /// The bytes in use.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    public var isEmpty: Bool { segments.isEmpty }

    /// Forgets the records, keeping the buffer.
    public func removeAll() {
        storage = owned
        count = 0
        segments.removeAll(keepingCapacity: true)
    }

    private func reserve(_ extra: Int) {
        precondition(storage.baseAddress == owned.baseAddress, "cannot append to a borrowed batch")
        guard count + extra > storage.count else { return }
        var size = storage.count
        while size < count + extra { size *= 2 }
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[0..<count]))
        owned.deallocate()
        owned = bigger
        storage = bigger
    }

    /// Appends lines (the last may lack its `\n`; one is added) as one segment. ANSI escapes and
    /// CR line ends are left to the matcher's sanitizer. An empty `lines` is one empty line.
    public func append(
        _ lines: UnsafeRawBufferPointer, origin: Origin, firstLine: Int, time: Double,
        truncatedAt: Int? = nil, end: RecordPosition, priority: Int8 = -1, bootID: BootID? = nil
    ) {
        let needsNewline = lines.isEmpty || lines[lines.count - 1] != 0x0A
        reserve(lines.count + 1)
        let start = count
        if !lines.isEmpty {
            (storage.baseAddress! + count).copyMemory(from: lines.baseAddress!, byteCount: lines.count)
            count += lines.count
        }
        if needsNewline {
            storage[count] = 0x0A
            count += 1
        }
        var segment = Segment(range: start..<count, origin: origin, firstLine: firstLine, time: time, truncatedAt: truncatedAt, end: end)
        segment.priority = priority
        segment.bootID = bootID
        segments.append(segment)
    }

    /// Appends one record given as a string.
    public func append(_ line: String, origin: Origin, firstLine: Int = 0, time: Double, end: RecordPosition = .none) {
        var line = line
        line.withUTF8 { append(UnsafeRawBufferPointer($0), origin: origin, firstLine: firstLine, time: time, end: end) }
    }

    /// Sets where the source resumes after segment `index` (a source that learns it only after
    /// appending, as the journal source does for the last entry of a batch).
    func setEnd(_ end: RecordPosition, ofSegment index: Int) {
        segments[index].end = end
    }

    /// Cleans every segment in place with `sanitize` (which returns the new length of the bytes
    /// it was given) and closes the gaps in one pass over the buffer.
    public func sanitize(_ sanitize: (UnsafeMutableRawBufferPointer) -> Int) {
        var write = 0
        for i in segments.indices {
            let r = segments[i].range
            let segment = UnsafeMutableRawBufferPointer(rebasing: storage[r])
            var length = sanitize(segment)
            // A segment ends in `\n` (only a borrowed last line at the end of an input may lack
            // it, and then there is no room to add one: the end of the buffer ends the line).
            if (length == 0 || segment[length - 1] != 0x0A) && length < segment.count {
                segment[length] = 0x0A
                length += 1
            }
            if write != r.lowerBound {
                memmove(storage.baseAddress! + write, storage.baseAddress! + r.lowerBound, length)
            }
            segments[i].range = write..<write + length
            write += length
        }
        count = write
    }

    /// The index of the segment holding byte `offset`.
    public func segmentIndex(at offset: Int) -> Int {
        var low = 0, high = segments.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if segments[mid].range.lowerBound <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }
}
