import CaseCatalog

/// One log line with its own origin, time and resume position: the unit every source produces
/// and every stage carries (the stages see records grouped in a `RecordBatch`).
public struct LogRecord: Sendable, Hashable {
    /// The line's bytes, without its line terminator.
    public var line: [UInt8]
    public var origin: Origin
    /// Seconds since the epoch: the source's own time (journald's realtime, kubectl's
    /// `--timestamps`), else the time it was read.
    public var time: Double
    /// Where the source resumes after this record.
    public var position: RecordPosition
    /// The line's number in its stream (0: not numbered).
    public var lineNumber: Int
    /// The syslog priority, 0...7, or -1 when the source has none.
    public var priority: Int8 = -1
    /// The boot the record was written in (journal records).
    public var bootID: BootID?

    public init(line: [UInt8], origin: Origin, time: Double, position: RecordPosition = .none, lineNumber: Int = 0) {
        self.line = line
        self.origin = origin
        self.time = time
        self.position = position
        self.lineNumber = lineNumber
    }

    public init(_ line: String, origin: Origin, time: Double, position: RecordPosition = .none, lineNumber: Int = 0) {
        self.init(line: Array(line.utf8), origin: origin, time: time, position: position, lineNumber: lineNumber)
    }
}

extension RecordBatch {
    /// Appends one record as its own segment.
    public func append(_ record: LogRecord) {
        record.line.withUnsafeBytes {
            append(
                $0, origin: record.origin, firstLine: record.lineNumber, time: record.time, end: record.position,
                priority: record.priority, bootID: record.bootID)
        }
    }

    /// The records of the batch, one per line (for tests and tools; the stages work on the bytes).
    public var records: [LogRecord] {
        var out: [LogRecord] = []
        let b = bytes
        for s in segments {
            var start = s.range.lowerBound
            var number = s.firstLine
            while start < s.range.upperBound {
                var end = start
                while end < s.range.upperBound && b[end] != 0x0A { end += 1 }
                let last = end + 1 >= s.range.upperBound
                var record = LogRecord(
                    line: Array(b[start..<end]), origin: s.origin, time: s.time, position: last ? s.end : .none,
                    lineNumber: number)
                record.priority = s.priority
                record.bootID = s.bootID
                out.append(record)
                if number > 0 { number += 1 }
                start = end + 1
            }
        }
        return out
    }
}
