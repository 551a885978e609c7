import Foundation
import Logging
import ServiceLifecycle

/// The daemon's one periodic wake-up, and only when there is a reason: WATCHDOG=1 pings while a
/// watchdog is set (at half its interval) with a STATUS= line, and the alert book's resolve
/// timer (it sleeps until the next open alert may resolve, or until an alert opens; never in a
/// loop while nothing is open).
///
/// A ping says the daemon itself is alive: the pipeline is not stuck on a batch (a wedged sink
/// or stage shows as a batch in flight for longer than the interval), and the journal thread
/// either made progress or waits idle. A single stream that fails is its source's business (it
/// retries and raises casewatch-source-failing), not a reason to stop pinging.
public final class TimerService: Service, @unchecked Sendable {
    private let hub: Hub
    private let journal: JournalSourceService
    private let watchdog: Double?
    private let logger: Logger
    private var lastProgress: UInt64 = 0
    private var lastRecords = 0
    private var lastTime = Date().timeIntervalSince1970
    /// More of the STATUS= line from other sources (the Kubernetes streams following and waiting).
    public var statusExtra: (@Sendable () -> String)?

    public init(hub: Hub, journal: JournalSourceService, watchdog: Double?, logger: Logger) {
        self.hub = hub
        self.journal = journal
        self.watchdog = watchdog
        self.logger = logger
    }

    public func run() async throws {
        // A new alert may resolve earlier than the timer's next wake-up: the hub says so.
        // Not a task group racing a Task.sleep against an AsyncStream: that leaked (Wakeup).
        let wakeup = Wakeup()
        hub.onWakeNeeded = { wakeup.signal() }
        defer { hub.onWakeNeeded = nil }
        // The next ping is due half an interval after the last one, however often an opened
        // alert wakes the loop in between.
        var nextPing = Date().timeIntervalSince1970 + (watchdog ?? 0) / 2
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            var wake = Double.infinity
            if watchdog != nil { wake = nextPing }
            if let resolve = hub.nextResolve { wake = min(wake, max(resolve + 0.01, now + 0.01)) }
            if let save = hub.nextSave { wake = min(wake, max(save, now + 0.01)) }
            // With nothing due (no watchdog, no open alert) it sleeps until an alert opens: no
            // periodic wake-up while the daemon is quiet.
            let delay = wake == .infinity ? nil : max(wake - Date().timeIntervalSince1970, 0.001)
            do {
                try await cancelWhenGracefulShutdown {
                    await wakeup.wait(seconds: delay)
                    try Task.checkCancellation()
                }
            } catch {
                return
            }
            let t = Date().timeIntervalSince1970
            hub.tick(now: t)
            hub.saveIfDue()
            if let watchdog, t >= nextPing - 0.005 {
                ping(watchdog, at: t)
                nextPing = t + watchdog / 2
            }
        }
    }

    private func ping(_ interval: Double, at now: Double) {
        let busy = max(hub.busyFor(now: now), journal.deliveringFor(now: now))
        let progress = journal.progress
        let state = journal.state
        defer { lastProgress = progress }
        guard busy < interval else {
            logger.warning("One batch has been in hand too long, holding the watchdog", metadata: ["seconds": "\(Int(busy))"])
            return
        }
        // Reading and not moving on for a whole half-interval: the journal thread is stuck.
        // Waiting (a quiet journal), retrying (a source error, alerted) and delivering (the
        // pipeline's time, checked above) are known states, not a wedge.
        if state == .reading && progress == lastProgress {
            logger.warning("The journal thread makes no progress, holding the watchdog")
            return
        }
        Notifier.notify("WATCHDOG=1\nSTATUS=\(status(now))")
    }

    /// One line for `systemctl status`: sources, records/s, alerts, errors.
    func status(_ now: Double) -> String {
        let records = hub.records
        let rate = Double(records - lastRecords) / max(now - lastTime, 0.001)
        lastRecords = records
        lastTime = now
        let extra = statusExtra.map { ", " + $0() } ?? ""
        return "journald \(journal.state.map { "\($0)" } ?? "off")\(extra), \(Int(rate)) records/s, \(records) records, \(hub.alerts) alerts, \(hub.sinkFailures) sink failures, \(hub.matchErrors) match errors"
    }
}
