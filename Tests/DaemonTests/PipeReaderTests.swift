import Foundation
import Testing

@testable import Daemon

/// The one thread that reads every `kubectl logs -f` pipe (transport kubectl-logs): every byte
/// in order, a full consumer holds the pipe back without losing anything, the reader returns at
/// the pipe's end, and a cancelled reader returns without its writer closing the pipe.
@Suite struct PipeReaderTests {
    final class Collector: @unchecked Sendable {
        let lock = NSLock()
        var bytes: [UInt8] = []
        var refusals = 0
        /// `take` refuses (consumer full) while this is above 0, counting down.
        var refuseNext = 0
        var roomWaits = 0
        var gate: CheckedContinuation<Void, Never>?
        var gateOpen = false

        var output: LogOutput {
            LogOutput(
                take: { chunk in
                    self.lock.withLock {
                        self.bytes += chunk
                        if self.refuseNext > 0 {
                            self.refuseNext -= 1
                            self.refusals += 1
                            return false
                        }
                        return true
                    }
                },
                room: {
                    await withCheckedContinuation { c in
                        self.lock.withLock {
                            self.roomWaits += 1
                            if self.gateOpen { c.resume() } else { self.gate = c }
                        }
                    }
                })
        }

        func open() {
            let c = lock.withLock { () -> CheckedContinuation<Void, Never>? in
                gateOpen = true
                defer { gate = nil }
                return gate
            }
            c?.resume()
        }
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n }
        }
    }

    @Test func everyByteInOrderAcrossManyPipesThenTheReaderReturnsAtTheEnd() async throws {
        let reader = PipeReader(pacer: ReadPacer(interval: 0.01))
        defer { reader.stop() }
        let collectors = (0..<20).map { _ in Collector() }
        let pipes = try collectors.map { _ in try PipeReader.makePipe() }
        await withTaskGroup(of: Void.self) { group in
            for (i, p) in pipes.enumerated() {
                group.addTask { await reader.read(p.read, into: collectors[i].output) }
            }
            for round in 0..<50 {
                for (i, p) in pipes.enumerated() { Self.write(p.write, "stream \(i) line \(round)\n") }
            }
            for p in pipes { close(p.write) }
            await group.waitForAll()
        }
        for (i, c) in collectors.enumerated() {
            let expected = (0..<50).map { "stream \(i) line \($0)\n" }.joined()
            #expect(String(decoding: c.bytes, as: UTF8.self) == expected)
        }
    }

    @Test func aFullConsumerHoldsThePipeBackUntilItHasRoom() async throws {
        let reader = PipeReader(pacer: ReadPacer(interval: 0))
        defer { reader.stop() }
        let c = Collector()
        c.refuseNext = 1
        let p = try PipeReader.makePipe()
        let done = Task { await reader.read(p.read, into: c.output) }
        Self.write(p.write, "first\n")
        // The refusal parks the pipe: what is written next stays in it until the room opens.
        while c.lock.withLock({ c.roomWaits == 0 }) { await Task.yield() }
        Self.write(p.write, "second\n")
        try await Task.sleep(for: .milliseconds(100))
        #expect(String(decoding: c.lock.withLock { c.bytes }, as: UTF8.self) == "first\n", "nothing read while the consumer is full")
        c.open()
        close(p.write)
        await done.value
        #expect(String(decoding: c.bytes, as: UTF8.self) == "first\nsecond\n")
        #expect(c.refusals == 1)
    }

    @Test func aCancelledReaderReturnsWhileThePipeIsStillOpen() async throws {
        let reader = PipeReader(pacer: ReadPacer(interval: 0))
        defer { reader.stop() }
        let c = Collector()
        let p = try PipeReader.makePipe()
        defer { close(p.write) }
        let task = Task { await reader.read(p.read, into: c.output) }
        Self.write(p.write, "before\n")
        while c.lock.withLock({ c.bytes.isEmpty }) { await Task.yield() }
        task.cancel()
        await task.value
        #expect(String(decoding: c.bytes, as: UTF8.self) == "before\n")
        // The read end is closed: the writer sees EPIPE (SIGPIPE is ignored by the daemon).
        signal(SIGPIPE, SIG_IGN)
        var byte: UInt8 = 1
        var result = 0
        for _ in 0..<100 {
            result = Foundation.write(p.write, &byte, 1)
            if result < 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(result < 0 && errno == EPIPE)
    }
}
