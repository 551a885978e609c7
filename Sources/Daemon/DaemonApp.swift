import Alerting
import CaseCatalog
import CaseMatcher
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `casewatch run`: the configuration → the service graph → run until SIGTERM / SIGINT.
/// Tests build the same graph with a test configuration.
public final class DaemonApp: @unchecked Sendable {
    /// What the command line and the environment add to the configuration file.
    public struct Environment: Sendable {
        public var configPath: String
        public var catalog: CatalogSetup
        /// $STATE_DIRECTORY (systemd's StateDirectory=) wins over the file's state_dir.
        public var stateDirectory: String?
        /// The output language when the configuration says `auto`.
        public var localeLanguage: Language
        /// Backoff of a failing source (tests make it short).
        public var retryDelay: Double = 5

        public init(configPath: String, catalog: CatalogSetup, stateDirectory: String?, localeLanguage: Language) {
            self.configPath = configPath
            self.catalog = catalog
            self.stateDirectory = stateDirectory
            self.localeLanguage = localeLanguage
        }
    }

    public let environment: Environment
    public let logger: Logger
    public let hub: Hub
    public let journal: JournalSourceService
    /// The Kubernetes source when `sources.kubernetes` is set.
    public let kubernetes: KubernetesSourceService?
    public let files: FileSourceService
    /// The metrics listener when `metrics.listen` is set (bound already).
    public let metricsService: MetricsService?
    private let sinkFactory: SinkFactory

    /// Loads and checks everything; throws what `casewatch validate` would print.
    public init(environment: Environment, logger: Logger) throws {
        self.environment = environment
        self.logger = logger
        let config = try DaemonConfiguration.load(environment.configPath)
        for w in config.warnings { logger.warning("\(w)") }
        sinkFactory = SinkFactory(localeLanguage: environment.localeLanguage, foreground: !Notifier.isActive)
        let metrics = DaemonMetrics()
        sinkFactory.webhookContext = (metrics, logger, environment.stateDirectory)
        let generation = try Self.generation(config, environment, sinkFactory)
        let store = try StateStore(directory: environment.stateDirectory ?? config.stateDirectory)
        let state = try store.load()
        metrics.buildInfo(version: CasewatchVersion.string, hyperscan: vectorscanVersion, pcre2: pcre2Version)
        metrics.declare(
            sources: [JournalSourceService.sourceName, FileSourceService.metricsName] + (config.sources.kubernetes == nil ? [] : [KubernetesSourceService.sourceName]),
            kinds: [.journald, .file, .casewatch] + (config.sources.kubernetes == nil ? [] : [.kubectl, .events]), sinks: config.sinks.names)
        hub = try Hub(generation: generation, store: store, state: state, metrics: metrics, logger: logger)
        metricsService = try config.metrics.map { try MetricsService(listen: $0, metrics: metrics, logger: logger) }
        journal = JournalSourceService(settings: config.sources.journald, hub: hub, retryDelay: environment.retryDelay, logger: logger)
        files = FileSourceService(settings: config.sources.files, hub: hub, retryDelay: environment.retryDelay, logger: logger)
        let hub = self.hub
        kubernetes = config.sources.kubernetes.map { settings in
            // kubectl's discovery and HTTP caches go to casewatch's cache directory (the home
            // directory is read-only or absent under the unit).
            let cache = (environment.catalog.cacheDirectory ?? (environment.stateDirectory ?? config.stateDirectory)) + "/kubectl"
            return KubernetesSourceService(
                settings: settings, kubectl: KubernetesSourceService.kubectl(for: settings, cacheDirectory: cache), hub: hub,
                tuning: .init(retryDelay: environment.retryDelay), logger: logger,
                proxySocket: (ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"] ?? environment.stateDirectory ?? config.stateDirectory) + "/kubectl-proxy.sock")
        }
        let cursor: String? = if case .journal(let c)? = state.positions[JournalSourceService.sourceName] { c } else { nil }
        // Followed files' lines read again after a crash: the alerts written since the last save.
        let since = config.sinks.journald != nil && state.positions.keys.contains { $0.hasPrefix("file:") } ? store.lastSaved.map { $0 - 2 } : nil
        if cursor != nil || since != nil {
            try sinkFactory.prepareJournal(after: cursor, since: since, directory: config.sources.journald?.directory)
        }
    }

    static func generation(_ config: DaemonConfiguration, _ environment: Environment, _ sinks: SinkFactory) throws -> Hub.Generation {
        let catalog = try environment.catalog.catalog(for: config)
        let compiled = try environment.catalog.compile(catalog)
        return Hub.Generation(
            compiled: compiled, options: CatalogSetup.pipelineOptions(config), sinks: try sinks.sinks(for: config),
            routes: Self.routes(config), configuration: config)
    }

    static func routes(_ config: DaemonConfiguration) -> [String: Set<String>] {
        var routes: [String: Set<String>] = [:]
        for o in config.patterns.overrides { if let s = o.sinks { routes[o.caseID] = Set(s) } }
        return routes
    }

    /// Runs until SIGTERM / SIGINT, then finishes the records read, hands their alerts over,
    /// saves the positions and returns (within `shutdown_timeout`).
    public func run() async throws {
        let config = hub.configuration
        let timer = TimerService(hub: hub, journal: journal, watchdog: Notifier.watchdogInterval, logger: logger)
        if let kubernetes {
            timer.statusExtra = {
                let (active, waiting) = kubernetes.streamCounts
                return "kubernetes \(active) streams following, \(waiting) waiting"
            }
        }
        // SIGHUP is trapped before READY=1: a reload asked for right after the start is a reload,
        // not the end of the daemon (SIGHUP's default action).
        let reload = ReloadService(app: self, signals: await UnixSignalsSequence(trapping: .sighup))
        let lifecycle = LifecycleService(hub: hub, timeout: config.shutdownTimeout, logger: logger)
        var groupConfig = ServiceGroupConfiguration(
            services: [
                .init(service: journal), .init(service: files), .init(service: timer), .init(service: reload), .init(service: lifecycle),
            ] + (metricsService.map { [.init(service: $0)] } ?? []) + (kubernetes.map { [.init(service: $0)] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(Int64(config.shutdownTimeout * 1000))
        let group = ServiceGroup(configuration: groupConfig)
        logger.info("casewatch started", metadata: [
            "config": "\(environment.configPath)", "patterns": "\(hub.patternCount)",
            "sources": "\(([config.sources.journald == nil ? nil : "journald", config.sources.files == nil ? nil : "files", config.sources.kubernetes == nil ? nil : "kubernetes"] as [String?]).compactMap { $0 }.joined(separator: ","))",
            "sinks": "\(config.sinks.names.joined(separator: ","))",
            "metrics": "\(config.metrics?.listen ?? "off")",
        ])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                // READY=1 once every source is started (positioned, or retrying and alerting).
                await self.journal.awaitStarted()
                await self.files.awaitStarted()
                await self.kubernetes?.awaitStarted()
                Notifier.notify("READY=1\nSTATUS=started")
            }
            try await tasks.waitForAll()
        }
        hub.save()
        sinkFactory.stopWebhooks()
        logger.info("casewatch stopped", metadata: ["records": "\(hub.records)", "alerts": "\(hub.alerts)"])
    }

    /// SIGHUP: read the configuration and the patterns again; on any error keep what runs.
    public func reload() {
        Notifier.reloading()
        defer { Notifier.notify("READY=1") }
        let old = hub.configuration
        let config: DaemonConfiguration
        do {
            config = try DaemonConfiguration.load(environment.configPath)
        } catch {
            logger.error("Failed to reload, keeping the running configuration", metadata: ["errors": "\(error)"])
            hub.metrics.reload(.failure)
            return
        }
        do {
            if Self.sameCatalog(old, config) && !patternsChangedOnDisk(config) {
                hub.replaceSinks(try sinkFactory.sinks(for: config), routes: Self.routes(config), configuration: config)
            } else {
                try hub.reload(try Self.generation(config, environment, sinkFactory))
            }
        } catch {
            logger.error("Failed to reload, keeping the running configuration", metadata: ["errors": "\(error)"])
            hub.metrics.reload(.failure)
            return
        }
        hub.metrics.reload(.success)
        if config.metrics != old.metrics {
            logger.warning("metrics changes take effect at the next start")
        }
        if !Self.sameJournal(old.sources.journald, config.sources.journald) { journal.update(config.sources.journald) }
        if config.sources.kubernetes != old.sources.kubernetes {
            logger.warning("sources.kubernetes changes take effect at the next start")
        }
        files.update(config.sources.files)
        if config.stateDirectory != old.stateDirectory && environment.stateDirectory == nil {
            logger.warning("state_dir changes take effect at the next start")
        }
        logger.info("Reloaded", metadata: ["patterns": "\(hub.patternCount)"])
    }

    /// Pattern files may change without the configuration: a reload always re-reads them, and
    /// the catalog cache makes that cheap when nothing changed.
    private func patternsChangedOnDisk(_ config: DaemonConfiguration) -> Bool { true }

    static func sameCatalog(_ a: DaemonConfiguration, _ b: DaemonConfiguration) -> Bool {
        a.patterns.builtin == b.patterns.builtin && a.patterns.dirs == b.patterns.dirs
            && a.patterns.overrides.map(\.signature) == b.patterns.overrides.map(\.signature)
            && a.dedup.enabled == b.dedup.enabled && a.dedup.window == b.dedup.window && a.dedup.remind == b.dedup.remind
            && a.context.before == b.context.before
    }

    static func sameJournal(_ a: DaemonConfiguration.Journald?, _ b: DaemonConfiguration.Journald?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.units == b.units && a.identifiers == b.identifiers && a.priority == b.priority
            && a.since == b.since && a.directory == b.directory
    }
}

extension DaemonConfiguration.Override {
    /// Everything an override changes, to compare two configurations.
    var signature: String {
        "\(caseID)|\(enabled.map(String.init) ?? "-")|\(severity?.rawValue ?? "-")|\(dedupWindow.map { "\($0)" } ?? "-")|\(scope.map { "\($0)" } ?? "-")|\(sinks ?? [])"
    }
}

/// SIGHUP → reload.
final class ReloadService: Service, @unchecked Sendable {
    private weak var app: DaemonApp?
    private let signals: UnixSignalsSequence

    init(app: DaemonApp, signals: UnixSignalsSequence) {
        self.app = app
        self.signals = signals
    }

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            app?.reload()
        }
    }
}

/// Says STOPPING=1 when the shutdown begins, and stops sinks from holding it up forever.
/// Bounds the shutdown too: a thread stuck in a C call or a wedged stage cannot be cancelled,
/// so once `shutdown_timeout` has passed the process exits on its own (status 1) rather than
/// waiting for systemd's SIGKILL. Nothing is lost: positions are saved only after the sinks
/// had the alerts, so what was in flight is read again at the next start, as after a crash.
final class LifecycleService: Service, @unchecked Sendable {
    private let hub: Hub
    private let timeout: Double
    private let logger: Logger

    init(hub: Hub, timeout: Double, logger: Logger) {
        self.hub = hub
        self.timeout = timeout
        self.logger = logger
    }

    func run() async throws {
        try? await gracefulShutdown()
        Notifier.notify("STOPPING=1")
        hub.beginStopping()
        let timeout = self.timeout, logger = self.logger
        let deadline = Thread {
            Thread.sleep(forTimeInterval: timeout + 1)
            logger.error("Shutdown took longer than shutdown_timeout, exiting", metadata: ["shutdown_timeout": "\(timeout)s"])
            exit(1)
        }
        deadline.name = "casewatch-shutdown-deadline"
        deadline.start()
    }
}
