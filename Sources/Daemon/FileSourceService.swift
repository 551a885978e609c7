import CaseCatalog
import Foundation
import LogSources
import Logging
import ServiceLifecycle

/// The file source (`sources.files`) as a service: one dedicated thread owns the inotify
/// descriptor and the open files (`FileTail`), and hands each followed path's batches to the
/// hub under its own source name, `file:<path>`, so each path has its own saved position. The
/// thread blocks in the hub while the sinks write (back-pressure). A file that cannot be read
/// raises `casewatch-source-failing` (once) and is retried with backoff; a reload that changes
/// the settings restarts the thread after the saved positions.
public final class FileSourceService: Service, @unchecked Sendable {
    /// The metrics label of the source (a fixed value: paths never become labels).
    public static let metricsName = "files"
    /// The hub's name for a followed path's position.
    public static func sourceName(_ path: String) -> String { "file:" + path }
    /// The hub's name for the mark that a configured entry (`sources.files[].path`) was followed
    /// once: after that, `start: end` no longer applies to it, across restarts too (a file that
    /// appeared while casewatch was down, with no position of its own, is read from its start).
    public static func startedName(_ entryPath: String) -> String { "files-started:" + entryPath }

    /// Whether an entry was followed by an earlier run: its mark, or a saved position of a file
    /// it names (state saved before the mark existed).
    static func startedBefore(_ entry: FileTailOptions.Entry, hub: Hub) -> Bool {
        if hub.position(of: startedName(entry.path)) != nil { return true }
        return hub.positionNames.contains { name in
            name.hasPrefix("file:") && fnmatch(entry.path, String(name.dropFirst(5)), FNM_PATHNAME) == 0
        }
    }

    private let hub: Hub
    private let logger: Logger
    private let lock = NSLock()
    private var settings: DaemonConfiguration.Files?
    private var current: FileTail?
    private var restartRequested = false
    private var wake: CheckedContinuation<Void, Never>?
    public var retryDelay: Double
    /// Seconds a rotated file is read after its last write when no new file shows up
    /// (CASEWATCH_FILES_ROTATE_WAIT, for tests).
    private let rotateWait: Double

    public init(settings: DaemonConfiguration.Files?, hub: Hub, retryDelay: Double = 5, logger: Logger) {
        self.settings = settings
        self.hub = hub
        self.retryDelay = retryDelay
        self.logger = logger
        rotateWait = ProcessInfo.processInfo.environment["CASEWATCH_FILES_ROTATE_WAIT"].flatMap(Double.init) ?? 5
    }

    public var progress: UInt64 { lock.withLock { current?.progress ?? 0 } }

    public func update(_ next: DaemonConfiguration.Files?) {
        lock.withLock {
            guard next != settings else { return }
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
                guard let settings = lock.withLock({ restartRequested = false; return self.settings }), !settings.entries.isEmpty else {
                    markStarted()
                    await withCheckedContinuation { c in
                        lock.withLock { if restartRequested { c.resume() } else { wake = c } }
                    }
                    continue
                }
                if case .failed(let error) = await runThread(settings), !Task.isShuttingDownGracefully {
                    logger.error("File source stopped, restarting", metadata: ["source": "files", "error": "\(error)"])
                    hub.metrics.sourceRestart(source: Self.metricsName)
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

    private var started = false
    private var startedWaiters: [CheckedContinuation<Void, Never>] = []
    private var deliverSince = 0.0

    /// Seconds the thread has been handing one batch over (0: it is not), for the watchdog.
    public func deliveringFor(now: Double) -> Double {
        let since = lock.withLock { deliverSince }
        return since == 0 ? 0 : now - since
    }

    /// Returns once every file present is opened (or found unreadable, retried and alerted), or
    /// at once without a file source: READY=1 waits for this.
    public func awaitStarted() async {
        await withCheckedContinuation { c in
            lock.withLock {
                if started || settings == nil || settings?.entries.isEmpty == true { c.resume() } else { startedWaiters.append(c) }
            }
        }
    }

    private func markStarted() {
        let waiters = lock.withLock {
            started = true
            defer { startedWaiters = [] }
            return startedWaiters
        }
        for w in waiters { w.resume() }
    }

    private func runThread(_ settings: DaemonConfiguration.Files) async -> Outcome {
        var host = [CChar](repeating: 0, count: 256)
        let hostName = gethostname(&host, host.count) == 0 ? String(cString: host) : nil
        let options = FileTailOptions(
            entries: settings.options, maxOpen: settings.maxOpen, partialLineWait: settings.partialWait,
            rotateWait: rotateWait, retryDelay: min(retryDelay, 1), host: hostName)
        let tail = FileTail(options: options)
        lock.withLock { current = tail }
        defer { lock.withLock { current = nil } }
        let hub = self.hub, logger = self.logger
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let thread = Thread {
                do {
                    try tail.run(
                        saved: { hub.position(of: Self.sourceName($0)) },
                        startedBefore: { Self.startedBefore($0, hub: hub) },
                        handlers: FileTail.Handlers(
                            deliver: { batch, path in
                                self.lock.withLock { self.deliverSince = Date().timeIntervalSince1970 }
                                defer { self.lock.withLock { self.deliverSince = 0 } }
                                if let time = batch.segments.last?.time {
                                    hub.metrics.lag(source: Self.metricsName, seconds: Date().timeIntervalSince1970 - time)
                                }
                                try hub.deliver(batch, from: Self.sourceName(path))
                            },
                            record: { path, position in hub.record(position, of: Self.sourceName(path)) },
                            forget: { path in hub.forget(Self.sourceName(path)) },
                            report: { event in
                                Self.handle(event, logger, hub)
                                if case .started = event {
                                    // Every file present is positioned (and its position saved):
                                    // from now on a file without a position is new.
                                    for entry in options.entries where hub.position(of: Self.startedName(entry.path)) == nil {
                                        hub.record(.line(0), of: Self.startedName(entry.path))
                                    }
                                    self.markStarted()
                                }
                            }))
                    continuation.resume(returning: .stopped)
                } catch {
                    self.markStarted()
                    continuation.resume(returning: .failed(error))
                }
            }
            thread.name = "casewatch-files"
            thread.start()
        }
    }

    /// What the file source says: logged once each; an unreadable file raises
    /// casewatch-source-failing (named `file:<path>`), and reading it again resolves it.
    static func handle(_ event: FileTailEvent, _ logger: Logger, _ hub: Hub) {
        switch event {
        case .started:
            logger.info("Following files")
        case .following(let path, let offset):
            logger.info("Following a file", metadata: ["file": "\(path)", "offset": "\(offset)"])
        case .readError(let path, let error):
            logger.error("Failed to read a file, retrying", metadata: ["file": "\(path)", "error": "\(error.message)"])
            hub.metrics.sourceReadError(source: metricsName)
            hub.sourceFailing(sourceName(path), error: error.message)
        case .resumed(let path):
            logger.notice("Reading the file again", metadata: ["file": "\(path)"])
            hub.sourceRecovered(sourceName(path))
        case .rotated(let path):
            logger.info("The file was rotated, reading the rest of the old one first", metadata: ["file": "\(path)"])
        case .truncated(let path):
            logger.info("The file was truncated, reading it again from its start", metadata: ["file": "\(path)"])
        case .readDropped(let path, let bytes):
            logger.info("The file was truncated while it was read: that read is dropped, its lines come from the copy", metadata: ["file": "\(path)", "bytes": "\(bytes)"])
        case .restFound(let path, let sibling, let offset):
            logger.info("Reading the rest of the earlier file from a rotated copy", metadata: ["file": "\(path)", "copy": "\(sibling)", "offset": "\(offset)"])
        case .restMissing(let path, let offset):
            logger.warning("The earlier file is gone and no rotated copy of it was found: lines written after the saved position could not be read", metadata: ["file": "\(path)", "offset": "\(offset)"])
        case .released(let path):
            logger.info("The file is gone, released", metadata: ["file": "\(path)"])
        case .tooManyOpen(let path):
            logger.warning("Too many open files (sources.files_max_open), the file waits for an idle one to close", metadata: ["file": "\(path)"])
        case .watchFailed(let directory, let e):
            logger.error("Failed to watch a directory, files in it are read only when others change", metadata: ["directory": "\(directory)", "error": "\(String(cString: strerror(e)))"])
        }
    }
}
