import Foundation
import LogSources
import Logging

/// Hands the Kubernetes records to the hub from one dedicated thread: many stream tasks enqueue
/// lines, the thread delivers them in order per source (one source name per pod stream, so each
/// stream's position is recorded after the sinks had its lines). `hub.deliver` blocks while
/// sinks write or retry; on this thread that is back-pressure (enqueue waits when the queue is
/// full), not a blocked task of the cooperative pool.
final class KubernetesDelivery: @unchecked Sendable {
    private let hub: Hub
    private let logger: Logger
    private let lock = NSCondition()
    private var queue: [(source: String, records: [LogRecord])] = []
    private var queued = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var stopping = false
    private var thread: Thread?
    private let capacity: Int
    /// Called after a batch of a source was delivered, with the time of its last record.
    var onDelivered: (@Sendable (String, Double) -> Void)?

    init(hub: Hub, capacity: Int = 20_000, logger: Logger) {
        self.hub = hub
        self.capacity = capacity
        self.logger = logger
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "casewatch-kubernetes-delivery"
        thread = t
        t.start()
    }

    /// Queues records of `source`; waits while the queue is full.
    func enqueue(_ source: String, _ records: [LogRecord]) async {
        guard !records.isEmpty else { return }
        await room()
        _ = offer(source, records)
    }

    /// Queues records of `source` at once, from any thread (a log stream's reading thread);
    /// false when the queue is full: the caller then reads no more before `room()` returns.
    func offer(_ source: String, _ records: [LogRecord]) -> Bool {
        lock.withLock {
            if !records.isEmpty {
                queue.append((source, records))
                queued += records.count
                lock.signal()
            }
            return queued < capacity || stopping
        }
    }

    /// Returns when the queue has room.
    func room() async {
        while true {
            let full = lock.withLock { queued >= capacity && !stopping }
            if !full { return }
            await withCheckedContinuation { c in
                lock.withLock {
                    if queued >= capacity && !stopping { waiters.append(c) } else { c.resume() }
                }
            }
        }
    }

    /// Delivers what is queued, then ends the thread.
    func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
        while lock.withLock({ thread != nil }) { Thread.sleep(forTimeInterval: 0.01) }
        let w = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            defer { waiters = [] }
            return waiters
        }
        for c in w { c.resume() }
    }

    private func loop() {
        let batch = RecordBatch()
        while true {
            lock.lock()
            while queue.isEmpty && !stopping { lock.wait() }
            if queued < 512 && !stopping {
                // Gather what the other streams write meanwhile: one hand-over per 20 ms rather
                // than one per line (each costs thread wake-ups and a hub call per source).
                lock.unlock()
                Thread.sleep(forTimeInterval: 0.02)
                lock.lock()
            }
            if queue.isEmpty && stopping {
                thread = nil
                lock.unlock()
                return
            }
            let items = queue
            queue.removeAll(keepingCapacity: true)
            queued = 0
            let w = waiters
            waiters = []
            lock.unlock()
            for c in w { c.resume() }
            // One batch per source, its records in the order read.
            var order: [String] = []
            var bySource: [String: [LogRecord]] = [:]
            for item in items {
                if bySource[item.source] == nil { order.append(item.source) }
                bySource[item.source, default: []].append(contentsOf: item.records)
            }
            for source in order {
                batch.removeAll()
                for r in bySource[source] ?? [] { batch.append(r) }
                do {
                    try hub.deliver(batch, from: source)
                    if let time = batch.segments.last?.time { onDelivered?(source, time) }
                } catch {
                    // Only while stopping with a sink still failing: the position is not
                    // advanced, so the lines are read again at the next start.
                    logger.error("Failed to hand Kubernetes records over while stopping", metadata: ["source": "\(source)", "error": "\(error)"])
                }
            }
        }
    }
}

/// At most `limit` log streams at once; the others wait in order (FIFO).
final class StreamSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var free: Int
    private var queue: [(id: UInt64, c: CheckedContinuation<Void, Never>)] = []
    private var nextID: UInt64 = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        free = limit
    }

    var active: Int { lock.withLock { limit - free } }
    /// The most streams that held a slot at once (the limit holds: never above `limit` but for
    /// shutdown's `releaseAll`).
    var peak: Int { lock.withLock { peakCount } }
    private var peakCount = 0
    var waiting: Int { lock.withLock { queue.count } }
    var hasWaiters: Bool { lock.withLock { !queue.isEmpty } }

    /// Waits for a slot. Cancellation does not interrupt the wait (the caller releases right after).
    func acquire() async {
        await withCheckedContinuation { c in
            lock.withLock {
                if free > 0 && queue.isEmpty {
                    free -= 1
                    peakCount = max(peakCount, limit - free)
                    c.resume()
                } else {
                    nextID += 1
                    queue.append((nextID, c))
                }
            }
        }
    }

    func release() {
        let next: CheckedContinuation<Void, Never>? = lock.withLock {
            if !queue.isEmpty { return queue.removeFirst().c }
            free += 1
            return nil
        }
        next?.resume()
    }

    /// Wakes every waiter (shutdown): they get a slot over the limit and see the cancellation.
    func releaseAll() {
        let all = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            defer { queue = [] }
            return queue.map(\.c)
        }
        for c in all { c.resume() }
    }
}
