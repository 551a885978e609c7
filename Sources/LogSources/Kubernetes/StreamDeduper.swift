/// Which lines of one pod log stream were scanned already, so a stream resumed with
/// `--since-time` (whole seconds, inclusive: the last second comes again) or a container's
/// previous log read after its restart hands no line to the pipeline twice.
///
/// A line is its kubelet timestamp (nanoseconds) and a hash of its text. Remembered: the floor
/// (everything at or before it was scanned: the saved position after a daemon restart), the
/// newest timestamp admitted, and the last `capacity` lines (bounded).
public struct StreamDeduper: Sendable {
    public private(set) var floor: Int64
    public private(set) var newest: Int64
    private var ring: [Key] = []
    private var next = 0
    private var members: Set<Key> = []
    public let capacity: Int

    struct Key: Hashable, Sendable {
        var time: Int64
        var hash: UInt64
    }

    /// `floor`: lines at or before it count as scanned.
    public init(floor: Int64, capacity: Int = 256) {
        self.floor = floor
        self.newest = floor
        self.capacity = capacity
        ring.reserveCapacity(capacity)
    }

    /// A line of the followed (current) log: new when after the floor, not before the newest
    /// line admitted (a container's log only grows), and not one of the lines remembered.
    public mutating func admitFollowed(time: Int64, text: UnsafeRawBufferPointer) -> Bool {
        guard time > floor, time >= newest else { return false }
        return remember(Key(time: time, hash: Self.hash(text)))
    }

    /// A line of a previous log (read after a restart, possibly after newer lines of the new
    /// container): new when after the floor, not remembered, and not older than every line
    /// remembered once the memory is full (such a line was before what is remembered).
    public mutating func admitPrevious(time: Int64, text: UnsafeRawBufferPointer) -> Bool {
        guard time > floor else { return false }
        if ring.count == capacity, let oldest = ring.map(\.time).min(), time < oldest { return false }
        return remember(Key(time: time, hash: Self.hash(text)))
    }

    private mutating func remember(_ key: Key) -> Bool {
        guard !members.contains(key) else { return false }
        if ring.count < capacity {
            ring.append(key)
        } else {
            members.remove(ring[next])
            ring[next] = key
            next = (next + 1) % capacity
        }
        members.insert(key)
        newest = max(newest, key.time)
        return true
    }

    /// FNV-1a, 64 bits.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}
