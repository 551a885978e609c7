import CaseCatalog
import Foundation
import LogSources
import Logging
import ServiceLifecycle

/// The journald source as a service: the sd-journal handle lives on one dedicated thread for its
/// whole life (systemd's rule: a handle is not thread-safe, and Swift tasks hop threads); the
/// thread hands its batches to the hub and blocks there while the sinks write (back-pressure).
/// A journal that cannot be opened or read raises `casewatch-source-failing` and is retried with
/// backoff; the alert resolves when reading resumes. A reload that changes the source's settings
/// restarts it after its saved cursor.
public final class JournalSourceService: Service, @unchecked Sendable {
    public static let sourceName = "journald"

    private let hub: Hub
    private let logger: Logger
    private let lock = NSLock()
    private var settings: DaemonConfiguration.Journald?
    private var current: JournalSource?
    private var restartRequested = false
    private var wake: CheckedContinuation<Void, Never>?
    /// Bumped by the source thread on every turn, for the watchdog.
    public var progress: UInt64 { lock.withLock { current?.progress ?? 0 } }
    /// Pause before the thread is started again after `deliver` failed, seconds.
    public var retryDelay: Double

    public init(settings: DaemonConfiguration.Journald?, hub: Hub, retryDelay: Double = 5, logger: Logger) {
        self.settings = settings
        self.hub = hub
        self.retryDelay = retryDelay
        self.logger = logger
    }

    /// A reload: new settings take effect now (the thread stops and starts again after its cursor).
    public func update(_ next: DaemonConfiguration.Journald?) {
        lock.withLock {
            settings = next
            restartRequested = true
            current?.stop()
            wake?.resume()
            wake = nil
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                guard let settings = lock.withLock({ restartRequested = false; return self.settings }) else {
                    // No journald source configured: wait for a reload or the shutdown.
                    await withCheckedContinuation { c in
                        lock.withLock { if restartRequested { c.resume() } else { wake = c } }
                    }
                    continue
                }
                if case .failed(let error) = await runThread(settings), !Task.isShuttingDownGracefully {
                    // Only `deliver` ends a run with an error (the journal's own errors are
                    // retried inside): the hub is stopping, or a sink kept failing.
                    logger.error("Journal source stopped, restarting", metadata: ["source": "journald", "error": "\(error)"])
                    hub.metrics.sourceRestart(source: Self.sourceName)
                    try? await Task.sleep(for: .seconds(retryDelay))
                }
            }
        } onGracefulShutdown: {
            self.markStarted()
            self.lock.withLock {
                self.current?.stop()
                self.wake?.resume()
                self.wake = nil
                self.restartRequested = true
            }
        }
    }

    enum Outcome { case stopped, failed(Error) }

    /// Seconds the source thread has been handing one batch over (0: it is not), for the watchdog.
    public func deliveringFor(now: Double) -> Double {
        let since = lock.withLock { deliverSince }
        return since == 0 ? 0 : now - since
    }

    /// The source thread's state, for the watchdog (nil: no thread runs).
    public var state: JournalSourceState? { lock.withLock { current?.state } }

    private var deliverSince = 0.0
    private var started = false
    private var startedWaiters: [CheckedContinuation<Void, Never>] = []

    /// Returns once the source has positioned itself in the journal, or found it cannot read it
    /// (it then retries and alerts), or when no journald source is configured: READY=1 waits
    /// for this.
    public func awaitStarted() async {
        await withCheckedContinuation { c in
            lock.withLock {
                if started || settings == nil { c.resume() } else { startedWaiters.append(c) }
            }
        }
    }

    fileprivate func markStarted() {
        let waiters = lock.withLock {
            started = true
            defer { startedWaiters = [] }
            return startedWaiters
        }
        for w in waiters { w.resume() }
    }

    /// One life of the source thread: from the saved cursor (or `since`) until stopped.
    private func runThread(_ settings: DaemonConfiguration.Journald) async -> Outcome {
        let options = JournalSourceOptions(
            units: settings.units, identifiers: settings.identifiers, maxPriority: settings.priority,
            directory: settings.directory)
        let source = JournalSource(options: options)
        let start: JournalStart
        if case .journal(let cursor)? = hub.position(of: Self.sourceName) {
            // An empty cursor: the journal was empty at the first start; everything is new.
            start = cursor.isEmpty ? .head : .after(cursor: cursor)
        } else {
            start = settings.since == .all ? .head : .now
        }
        lock.withLock { current = source }
        defer { lock.withLock { current = nil } }
        let hub = self.hub
        let logger = self.logger
        let stall = ProcessInfo.processInfo.environment["CASEWATCH_FAULT"] == "stall-journald-source"
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let thread = Thread {
                do {
                    try source.run(start: start, deliver: { batch in
                        self.lock.withLock { self.deliverSince = Date().timeIntervalSince1970 }
                        defer { self.lock.withLock { self.deliverSince = 0 } }
                        if stall {
                            // Test-only fault switch: a source thread that never comes back.
                            logger.warning("CASEWATCH_FAULT=stall-journald-source: the journal thread stops here")
                            while true { Thread.sleep(forTimeInterval: 3600) }
                        }
                        if let time = batch.segments.last?.time {
                            hub.metrics.lag(source: Self.sourceName, seconds: Date().timeIntervalSince1970 - time)
                        }
                        try hub.deliver(batch, from: Self.sourceName)
                    }, report: { event in
                        JournalSourceService.handle(event, logger, hub)
                        switch event {
                        case .started, .readError: self.markStarted()
                        default: break
                        }
                    })
                    continuation.resume(returning: .stopped)
                } catch {
                    continuation.resume(returning: .failed(error))
                }
            }
            thread.name = "casewatch-journald"
            thread.start()
        }
    }

    /// What the source says: logged once each; a read error raises casewatch-source-failing, and
    /// its end resolves it.
    static func handle(_ event: JournalSourceEvent, _ logger: Logger, _ hub: Hub) {
        switch event {
        case .readError(let error):
            logger.error("Failed to read the journal, retrying", metadata: ["source": "journald", "error": "\(error)"])
            hub.metrics.sourceReadError(source: sourceName)
            hub.sourceFailing(sourceName, error: "\(error)")
        case .resumed:
            logger.notice("Reading the journal again", metadata: ["source": "journald"])
            hub.sourceRecovered(sourceName)
        case .cursorVanished(let cursor):
            logger.warning("The saved journal position was vacuumed, reading from the oldest entry after it", metadata: ["cursor": "\(cursor)"])
        case .cursorInvalid(let cursor):
            logger.warning("The saved journal position is not a cursor, reading from now", metadata: ["cursor": "\(cursor)"])
        case .caughtUp:
            hub.metrics.lag(source: sourceName, seconds: 0)
            hub.save()
        case .started(let cursor):
            // The first start: where "now" was is the position until the first batch is saved.
            if hub.position(of: sourceName) == nil {
                hub.record(.journal(cursor: cursor ?? ""), of: sourceName)
            }
        case .filesChanged:
            logger.debug("Journal files changed (rotation, vacuum or journald restart)")
        case .backPressure(let seconds, let entries):
            logger.warning("The pipeline holds the journal back", metadata: ["seconds": "\(seconds)", "entries": "\(entries)"])
        }
    }
}
