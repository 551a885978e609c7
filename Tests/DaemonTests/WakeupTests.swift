import Foundation
import Testing

@testable import Daemon

/// The timer loop's wake-up (TimerService). It replaced a task group per wait that raced a
/// `Task.sleep` child against a child iterating an AsyncStream: once the sleep won, cancelling
/// the iterating child finished the stream, every later wait returned at once, and the loop
/// spun, leaving a cancelled sleep task (held until its deadline, up to the dedup window) per
/// turn: the soak's unbounded growth. These tests fail on that design: after a deadline or a
/// cancellation, a wait must still block until its signal.
@Suite struct WakeupTests {
    /// Polls (with a deadline) until a wait is registered: the wait has blocked.
    private func waitUntilBlocked(_ w: Wakeup) async throws {
        let deadline = Date().addingTimeInterval(10)
        while !w.isWaiting {
            try #require(Date() < deadline, "the wait never blocked")
            await Task.yield()
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test func aSignalBeforeTheWaitIsKept() async {
        let w = Wakeup()
        w.signal()
        await w.wait(seconds: nil)
        #expect(w.wakes == 1)
    }

    @Test func aDeadlineEndsTheWait() async {
        let w = Wakeup()
        await w.wait(seconds: 0.01)
        #expect(w.wakes == 1)
    }

    @Test func waitsStillBlockAfterDeadlinesAndCancellations() async throws {
        let w = Wakeup()
        // Many waits ended by their deadline, as under load when saves come due...
        for _ in 0..<50 { await w.wait(seconds: 0.001) }
        // ...and one ended by cancellation (the old design's stream died here).
        let cancelled = Task { await w.wait(seconds: nil) }
        try await waitUntilBlocked(w)
        cancelled.cancel()
        await cancelled.value
        let before = w.wakes
        #expect(before == 51)
        let waiting = Task { await w.wait(seconds: nil) }
        try await waitUntilBlocked(w)
        #expect(w.wakes == before, "a wait returned without a signal: the loop would spin")
        w.signal()
        await waiting.value
        #expect(w.wakes == before + 1)
    }

    @Test func aSignalFromAnotherThreadWakesAWaitWithoutDeadline() async throws {
        let w = Wakeup()
        let waiting = Task { await w.wait(seconds: nil) }
        try await waitUntilBlocked(w)
        Thread.detachNewThread { w.signal() }
        await waiting.value
        #expect(w.wakes == 1)
    }
}
