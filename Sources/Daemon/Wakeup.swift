import Dispatch
import Foundation

/// What the timer loop waits on: a deadline or a `signal()`, whichever comes first, with one
/// dispatch timer for the life of the process that each wait re-arms.
///
/// It replaces a task group per wait (a `Task.sleep` child racing a child iterating an
/// `AsyncStream`), which leaked: cancelling the child that iterates an `AsyncStream` finishes
/// the stream for good, so after the first time the sleep won, every later wait returned at
/// once and the loop spun; and each cancelled `Task.sleep` leaves its sleep task (~700 bytes) in
/// the runtime's timer queue until its deadline, up to an alert's resolve time (the dedup
/// window, 10 minutes). Under load that was hundreds of MB (see docs/PERFORMANCE.md, "Soak").
///
/// One waiter at a time. A signal with no waiter is kept (one) for the next wait; a timer that
/// fires after its wait was already woken makes at most one early return, which the caller's
/// loop absorbs (it recomputes what is due).
final class Wakeup: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private let timer: DispatchSourceTimer
    /// Waits that returned (woken, timed out or cancelled), for tests.
    var wakes: Int { lock.withLock { wakeCount } }
    private var wakeCount = 0
    /// A wait is blocked (tests).
    var isWaiting: Bool { lock.withLock { waiter != nil } }

    init() {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "casewatch-wakeup"))
        timer.schedule(deadline: .distantFuture)
        timer.setEventHandler { [weak self] in self?.signal() }
        timer.activate()
    }

    deinit {
        timer.setEventHandler {}
        timer.cancel()
    }

    /// Wakes the waiter, or the next wait when none waits. Any thread.
    func signal() {
        lock.lock()
        let w = waiter
        waiter = nil
        if w == nil { pending = true }
        lock.unlock()
        w?.resume()
    }

    /// Returns after `seconds` (nil: no deadline), at a `signal()`, or when the task is cancelled.
    func wait(seconds: Double?) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if pending || Task.isCancelled {
                    pending = false
                    lock.unlock()
                    c.resume()
                    return
                }
                waiter = c
                let deadline: DispatchTime = seconds.map { .now() + .nanoseconds(Int(max($0, 0) * 1e9)) } ?? .distantFuture
                timer.schedule(deadline: deadline)
                lock.unlock()
            }
        } onCancel: {
            signal()
        }
        lock.withLock { wakeCount += 1 }
    }
}
