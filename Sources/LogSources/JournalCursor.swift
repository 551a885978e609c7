/// The parts of a journal cursor (`s=<seqnum id>;i=<seqnum>;b=<boot id>;m=<monotonic>;t=<realtime>;x=<xor hash>`,
/// numbers in hex), for messages and for the time an entry was written. A cursor is otherwise
/// opaque: sd-journal seeks to it (`sd_journal_seek_cursor`).
public struct JournalCursor: Sendable, Hashable {
    /// The id of the sequence-number series the entry belongs to (one per journald file set).
    public var seqnumID: String
    public var seqnum: UInt64
    public var bootID: String
    /// CLOCK_MONOTONIC of the boot, microseconds.
    public var monotonic: UInt64
    /// CLOCK_REALTIME, microseconds since the epoch.
    public var realtime: UInt64
    public var xorHash: UInt64

    /// nil when `cursor` lacks one of the six fields or a number is not hex.
    public init?(_ cursor: String) {
        var fields: [Character: Substring] = [:]
        for part in cursor.split(separator: ";") {
            guard part.count >= 2, part.dropFirst().first == "=", let key = part.first else { return nil }
            fields[key] = part.dropFirst(2)
        }
        guard let s = fields["s"], let i = fields["i"].flatMap({ UInt64($0, radix: 16) }),
            let b = fields["b"], let m = fields["m"].flatMap({ UInt64($0, radix: 16) }),
            let t = fields["t"].flatMap({ UInt64($0, radix: 16) }), let x = fields["x"].flatMap({ UInt64($0, radix: 16) })
        else { return nil }
        seqnumID = String(s)
        seqnum = i
        bootID = String(b)
        monotonic = m
        realtime = t
        xorHash = x
    }

    /// When the entry was written: seconds since the epoch.
    public var time: Double { Double(realtime) / 1_000_000 }
}
