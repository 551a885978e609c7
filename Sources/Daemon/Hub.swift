import Alerting
import CaseCatalog
import CaseMatcher
import Foundation
import LogSources
import Logging

/// The one pipeline of the process and its sinks, shared by every source: a source thread hands
/// over a batch and gets control back once the alerts of its records are written by every sink
/// (that is the back-pressure), and only then is its position recorded for the next save.
///
/// One lock guards it: the pipeline's stages keep per-stream and cross-stream state that must
/// see the batches one at a time, and the work under the lock is small (one Hyperscan call per
/// batch; PCRE2, correlation and sinks only on hits).
public final class Hub: @unchecked Sendable {
    /// What a reload replaces at once.
    public struct Generation {
        public var compiled: CompiledCatalog
        public var options: Pipeline.Options
        public var sinks: [AlertSink]
        /// Case id → the sinks its alerts go to (absent: every sink).
        public var routes: [String: Set<String>]
        public var configuration: DaemonConfiguration

        public init(compiled: CompiledCatalog, options: Pipeline.Options, sinks: [AlertSink], routes: [String: Set<String>], configuration: DaemonConfiguration) {
            self.compiled = compiled
            self.options = options
            self.sinks = sinks
            self.routes = routes
            self.configuration = configuration
        }
    }

    public static let sourceFailingCase = "casewatch-source-failing"

    private let lock = NSLock()
    private var generation: Generation
    private var pipeline: Pipeline
    private let store: StateStore
    private var state: StateStore.State
    private var lastSave = 0.0
    private let saveInterval: Double
    private let logger: Logger
    /// Called (outside the lock) when the timer has something new to wait for: an alert opened
    /// (it may resolve before the timer's next wake-up), or unsaved positions (saved at most
    /// once per `saveInterval`, the end of a burst by the timer).
    public var onWakeNeeded: (@Sendable () -> Void)? {
        get { lock.withLock { wakeHook } }
        set { lock.withLock { wakeHook = newValue } }
    }
    private var wakeHook: (@Sendable () -> Void)?
    /// Positions or alerts changed since the last save.
    private var dirty = false
    /// What the hub counts for `metrics.listen` (counted whether served or not).
    public let metrics: DaemonMetrics
    /// Set while shutting down: a sink that keeps failing no longer holds the source.
    private var stopping = false

    // Liveness and STATUS=, read without the lock (plain loads of words).
    private var busySinceStorage = 0.0
    public private(set) var records = 0
    public private(set) var alerts = 0
    public private(set) var batches = 0
    public private(set) var sinkFailures = 0
    public private(set) var matchErrors = 0
    /// State files written (positions and alert book).
    public private(set) var saves = 0

    public init(generation: Generation, store: StateStore, state: StateStore.State, saveInterval: Double = 1, metrics: DaemonMetrics = DaemonMetrics(), logger: Logger) throws {
        self.generation = generation
        self.metrics = metrics
        self.store = store
        self.state = state
        self.saveInterval = saveInterval
        self.logger = logger
        pipeline = try Pipeline(compiled: generation.compiled, options: generation.options)
        pipeline.onSymptomHit = { [metrics] in metrics.symptomHit(caseID: $0) }
        metrics.patterns(generation.compiled.patterns.count)
        if let snapshot = state.book {
            let dropped = pipeline.book.restore(snapshot)
            if dropped > 0 { logger.notice("Dropped saved alerts of cases no longer in the catalog", metadata: ["count": "\(dropped)"]) }
        }
    }

    /// Symptoms compiled in the database in force.
    public var patternCount: Int { lock.withLock { generation.compiled.patterns.count } }

    /// The configuration in force.
    public var configuration: DaemonConfiguration { lock.withLock { generation.configuration } }

    /// The saved position of a source.
    public func position(of source: String) -> RecordPosition? { lock.withLock { state.positions[source] } }

    /// Seconds since the batch being processed was handed over (0: none is): a wedged pipeline or
    /// sink shows here, and the watchdog stops pinging.
    public func busyFor(now: Double) -> Double {
        let since = lock.withLock { busySinceStorage }
        return since == 0 ? 0 : now - since
    }

    /// Runs a source's batch through the pipeline and the sinks; records its position.
    /// Returns once every sink has the alerts; throws only when stopping with a sink still failing
    /// (the position is then not advanced, and the records are read again after a restart).
    public func deliver(_ batch: RecordBatch, from source: String) throws {
        guard !batch.isEmpty else { return }
        lock.lock()
        defer { lock.unlock() }
        busySinceStorage = Date().timeIntervalSince1970
        defer { busySinceStorage = 0 }
        var out: [Alert] = []
        try pipeline.process(batch, failed: { error in
            self.matchErrors += 1
            self.metrics.matchError()
            self.logger.error("Failed to match, the line may hold a case", metadata: ["error": "\(error)"])
        }) { out.append($0) }
        try write(out)
        records += batch.segments.count
        batches += 1
        if let kind = batch.segments.first?.origin.kind {
            metrics.read(records: batch.segments.count, bytes: batch.count, kind: kind)
        }
        let wasDirty = dirty
        if let end = batch.segments.last?.end, end != .none { state.positions[source] = end }
        dirty = true
        saveIfDue(force: false)
        let opened = out.contains { $0.state == .firing && $0.sequence == 1 }
        if opened || (dirty && !wasDirty), let hook = wakeHook {
            // Not under the lock: the hook only yields to a stream.
            lock.unlock()
            hook()
            lock.lock()
        }
    }

    /// When unsaved positions are due to be saved (nil: nothing to save).
    public var nextSave: Double? { lock.withLock { dirty ? lastSave + saveInterval : nil } }

    /// Saves if something changed and the last save is `saveInterval` old: a burst of records is
    /// saved once a second and at its end, not once per record.
    public func saveIfDue() {
        lock.withLock { if dirty { saveIfDue(force: false) } }
    }

    /// Hands notifications to the sinks their case is routed to, retrying a failing sink with
    /// backoff until it takes them (or the daemon stops).
    private func write(_ notifications: [Alert]) throws {
        for alert in notifications {
            alerts += 1
            metrics.alert(caseID: alert.caseID)
            let route = generation.routes[alert.caseID]
            for sink in generation.sinks where route?.contains(sink.name) ?? true {
                var delay = 0.05
                var logged = false
                while true {
                    do {
                        try sink.write(alert)
                        metrics.sinkWrite(sink: sink.name, outcome: .written)
                        if logged { logger.notice("Sink accepts alerts again", metadata: ["sink": "\(sink.name)"]) }
                        break
                    } catch {
                        sinkFailures += 1
                        metrics.sinkWrite(sink: sink.name, outcome: .failed)
                        if !logged {
                            logger.error("Failed to write an alert, retrying", metadata: ["sink": "\(sink.name)", "error": "\(error)"])
                            logged = true
                        }
                        if stopping { throw error }
                        lock.unlock()
                        Thread.sleep(forTimeInterval: delay)
                        lock.lock()
                        delay = min(delay * 2, 5)
                    }
                }
            }
        }
    }

    /// Moves the alert book's clock to the wall clock: resolves what went quiet.
    public func tick(now: Double) {
        lock.withLock {
            var out: [Alert] = []
            pipeline.tick(now: now) { out.append($0) }
            try? write(out)
            if !out.isEmpty { dirty = true }
        }
    }

    /// The earliest time an open alert may resolve, for the timer.
    public var nextResolve: Double? { lock.withLock { pipeline.book.earliestResolve } }

    /// A source cannot read: raises `casewatch-source-failing` naming it and the error (once per
    /// incident; repeats only count).
    public func sourceFailing(_ source: String, error: String) {
        let line = "source \(source) cannot read: \(error)"
        let batch = RecordBatch(capacity: line.utf8.count + 1)
        batch.append(line, origin: Self.internalOrigin(source), time: Date().timeIntervalSince1970)
        try? deliver(batch, from: "casewatch")
    }

    /// The source reads again: its `casewatch-source-failing` alert resolves now.
    public func sourceRecovered(_ source: String) {
        lock.withLock {
            let origin = Self.internalOrigin(source)
            let done = pipeline.book.resolve { $0.caseID == Self.sourceFailingCase && $0.origin == origin }
            try? write(done)
        }
    }

    static func internalOrigin(_ source: String) -> Origin {
        Origin(kind: .casewatch, name: "casewatch/\(source)", identifier: "casewatch-\(source)")
    }

    /// Swaps in a new catalog, options and sinks between two batches: the open alerts carry over
    /// (by case id), per-stream sequence state starts afresh.
    public func reload(_ next: Generation) throws {
        let fresh = try Pipeline(compiled: next.compiled, options: next.options)
        fresh.onSymptomHit = { [metrics] in metrics.symptomHit(caseID: $0) }
        metrics.patterns(next.compiled.patterns.count)
        lock.withLock {
            fresh.book.restore(pipeline.book.snapshot())
            pipeline = fresh
            generation = next
        }
    }

    /// Only the sinks and routes change (a reload that leaves the catalog alone).
    public func replaceSinks(_ sinks: [AlertSink], routes: [String: Set<String>], configuration: DaemonConfiguration) {
        lock.withLock {
            generation.sinks = sinks
            generation.routes = routes
            generation.configuration = configuration
        }
    }

    /// Records a source's position without a batch (where a first start began) and saves it now.
    public func record(_ position: RecordPosition, of source: String) {
        lock.withLock {
            state.positions[source] = position
            saveIfDue(force: true)
        }
    }

    /// Drops the saved positions of sources that are gone (the streams of a deleted pod), so the
    /// state stays bounded by what exists.
    public func forgetPositions(where drop: (String) -> Bool) {
        lock.withLock {
            let gone = state.positions.keys.filter(drop)
            guard !gone.isEmpty else { return }
            for k in gone { state.positions[k] = nil }
            dirty = true
        }
    }

    /// The names of the sources with a saved position.
    public var positionNames: [String] { lock.withLock { Array(state.positions.keys) } }

    /// A source is gone for good (a followed file deleted and read to its end): its position
    /// is dropped at the next save, so the state does not grow with every file ever followed.
    public func forget(_ source: String) {
        forgetPositions { $0 == source }
    }

    /// Writes positions and alert book now.
    public func save() {
        lock.withLock { saveIfDue(force: true) }
    }

    /// Stop retrying failing sinks: the daemon is shutting down.
    public func beginStopping() {
        lock.withLock { stopping = true }
    }

    private func saveIfDue(force: Bool) {
        let now = Date().timeIntervalSince1970
        guard force || now - lastSave >= saveInterval else { return }
        state.book = pipeline.book.snapshot()
        do {
            try store.save(state)
            lastSave = now
            dirty = false
            saves += 1
        } catch {
            logger.error("Failed to save the state, retrying with the next batch", metadata: ["directory": "\(store.directory)", "error": "\(error)"])
        }
    }
}
