/// Cuts a byte stream of JSON objects (`kubectl get --watch -o json` prints one per event,
/// compact or indented) into whole top-level objects, however the stream was chunked.
public struct JSONObjectSplitter {
    private var buffer: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var start: Int?
    private var scanned = 0
    /// An object longer than this is dropped (and counted).
    public var limit: Int
    public private(set) var dropped = 0

    public init(limit: Int = 16 << 20) { self.limit = limit }

    /// Feeds bytes; calls `object` with each complete top-level object.
    public mutating func feed<C: Collection<UInt8>>(_ bytes: C, _ object: ([UInt8]) -> Void) {
        buffer.append(contentsOf: bytes)
        var i = scanned
        while i < buffer.count {
            let c = buffer[i]
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
            } else if c == 0x22 {
                if depth > 0 { inString = true }
            } else if c == 0x7B {
                if depth == 0 { start = i }
                depth += 1
            } else if c == 0x7D, depth > 0 {
                depth -= 1
                if depth == 0, let s = start {
                    object(Array(buffer[s...i]))
                    start = nil
                }
            }
            i += 1
        }
        if depth == 0 {
            buffer.removeAll(keepingCapacity: true)
            scanned = 0
        } else if let s = start {
            if s > 0 {
                buffer.removeFirst(s)
                start = 0
            }
            scanned = buffer.count
            if buffer.count > limit {
                dropped += 1
                buffer.removeAll()
                depth = 0
                inString = false
                escaped = false
                start = nil
                scanned = 0
            }
        }
    }
}
