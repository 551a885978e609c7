import CaseCatalog
import LogSources
import Testing

@Suite struct RecordBatchTests {
    let a = Origin(kind: .journald, name: "kubelet.service", host: "n1", unit: "kubelet.service")
    let b = Origin(kind: .kubectl, name: "blueking/x-0/c", namespace: "blueking", pod: "x-0", container: "c")

    @Test func recordsKeepTheirOwnOriginTimeAndPosition() {
        let batch = RecordBatch(capacity: 8)  // grows
        batch.append(LogRecord("first", origin: a, time: 1, position: .journal(cursor: "s=1"), lineNumber: 0))
        batch.append(LogRecord("second", origin: b, time: 2, position: .stream(timestamp: "2026-11-30T00:00:02Z"), lineNumber: 7))
        batch.append(LogRecord("third", origin: a, time: 3))
        #expect(batch.segments.count == 3)
        #expect(batch.records.map { String(decoding: $0.line, as: UTF8.self) } == ["first", "second", "third"])
        #expect(batch.records.map(\.origin) == [a, b, a])
        #expect(batch.records.map(\.time) == [1, 2, 3])
        #expect(batch.records[1].position == .stream(timestamp: "2026-11-30T00:00:02Z") && batch.records[1].lineNumber == 7)
        #expect(Array(batch.bytes) == Array("first\nsecond\nthird\n".utf8), "one contiguous buffer, one line each")
    }

    @Test func aSegmentOfManyLinesNumbersThemAndEndsAtItsPosition() {
        let batch = RecordBatch()
        Array("x\ny\nz\n".utf8).withUnsafeBytes { batch.append($0, origin: a, firstLine: 10, time: 5, end: .line(12)) }
        #expect(batch.records.map(\.lineNumber) == [10, 11, 12])
        #expect(batch.records.map(\.position) == [.none, .none, .line(12)], "the position is where the source resumes after the segment")
    }

    @Test func removeAllKeepsTheBufferAndSanitizeClosesTheGaps() {
        let batch = RecordBatch()
        batch.append(LogRecord("XXrXeXdX", origin: a, time: 0))
        batch.append(LogRecord("plain", origin: b, time: 0))
        batch.sanitize { buffer in
            // A stand-in for the matcher's sanitizer: drops bytes in place, returns the length.
            var w = 0
            for r in 0..<buffer.count where buffer[r] != UInt8(ascii: "X") {
                buffer[w] = buffer[r]
                w += 1
            }
            return w
        }
        #expect(Array(batch.bytes) == Array("red\nplain\n".utf8))
        #expect(batch.segments.map(\.range) == [0..<4, 4..<10])
        let capacity = batch.storage.count
        batch.removeAll()
        #expect(batch.isEmpty && batch.count == 0 && batch.storage.count == capacity)
    }
}
