import CaseCatalog
import Foundation
import LogSources
import Logging
import ServiceLifecycle

/// `sources.kubernetes`: every pod's containers through `kubectl logs -f --timestamps`, the
/// events and the pod status through `kubectl get --watch` (`transport: kubectl-logs`), or the
/// same requests as HTTP through one `kubectl proxy` (`kubectl-proxy`, `KubernetesTransport`),
/// all with the operator's kubeconfig, so RBAC, proxies, exec credential plugins and contexts
/// behave as they do by hand.
///
/// - Discovery: `kubectl get pods -o json` (once per start: what exists, READY=1 waits for it),
///   then `kubectl get pods --watch --output-watch-events -o json`; a new pod's containers (init
///   containers too) are followed at once, a deleted pod's released and its positions dropped.
/// - Logs: one `kubectl logs -f` per container, at most `max_streams` at once (the rest wait in
///   order; a running stream gives its slot up after a time slice when others wait, and resumes
///   later), restarted with jittered backoff from the last timestamp seen (`--since-time`, whole
///   seconds, inclusive), skipping lines already scanned (`StreamDeduper`). When a container
///   restarts, its previous log is read once (`--previous`).
/// - Events and pod status become records in the layouts of `kubectl describe` and
///   `kubectl get pods -A`; kubectl's own errors become records once per cause.
/// - A stream that keeps failing raises casewatch-source-failing and is retried; the source
///   never stops and never makes the unit fail.
public final class KubernetesSourceService: Service, @unchecked Sendable {
    public static let sourceName = "kubernetes"
    static let eventsSource = "kubernetes/events"
    static let statusSource = "kubernetes/status"
    static let errorsSource = "kubernetes/errors"

    /// Timings (tests make them short).
    public struct Tuning: Sendable {
        /// The longest pause between two tries of a failing stream or watch, seconds.
        public var maxBackoff: Double = 30
        /// The first pause, seconds (doubled per failure, jittered).
        public var firstBackoff: Double = 1
        /// How long a stream keeps its slot while other streams wait, seconds.
        public var slice: Double = 60
        /// Failures in a row before a stream raises casewatch-source-failing.
        public var failuresBeforeAlert = 3
        /// How long the thread reading the log streams naps after a wake-up that read something,
        /// seconds (`ReadPacer`; $CASEWATCH_KUBERNETES_READ_INTERVAL, 0: no pacing).
        public var readInterval = 0.05

        public init() {}

        /// From the daemon's retry delay (the hidden `--retry-delay` of `casewatch run`):
        /// backoffs scale with it, the time slice from $CASEWATCH_KUBERNETES_SLICE (seconds).
        public init(retryDelay: Double, environment: [String: String] = ProcessInfo.processInfo.environment) {
            maxBackoff = retryDelay * 6
            firstBackoff = min(1, retryDelay / 5)
            if let s = environment["CASEWATCH_KUBERNETES_SLICE"].flatMap(Double.init), s > 0 { slice = s }
            if let r = environment["CASEWATCH_KUBERNETES_READ_INTERVAL"].flatMap(Double.init), r >= 0 { readInterval = r }
        }
    }

    let settings: DaemonConfiguration.Kubernetes
    let kubectl: Kubectl
    /// How requests reach the API server (`transport`).
    let transport: any KubernetesTransport
    let hub: Hub
    let tuning: Tuning
    let logger: Logger
    let delivery: KubernetesDelivery
    let slots: StreamSlots
    private let lock = NSLock()
    private var pods: [String: PodEntry] = [:]
    private var started = false
    private var watchersListed = 0
    private var startedWaiters: [CheckedContinuation<Void, Never>] = []
    private var reportedCauses: Set<String> = []
    private var apiFailing = false
    private var spawn: AsyncStream<StreamState>.Continuation?
    private var lastStatus: [String: String] = [:]
    private var seenEvents: [String: Int] = [:]
    private var eventFloor: (time: Int64, atTime: [String: Int])
    private var lastLine: [String: Double] = [:]

    final class PodEntry {
        var namespace: String
        var name: String
        var node: String?
        var streams: [String: StreamState] = [:]
        init(namespace: String, name: String, node: String?) {
            self.namespace = namespace
            self.name = name
            self.node = node
        }
    }

    /// One container's log stream.
    final class StreamState: @unchecked Sendable {
        let namespace: String
        let pod: String
        let container: String
        let source: String
        let origin: Origin
        let lock = NSLock()
        var alive = true
        var restarts: Int
        var previousPending: Bool
        var running: Bool
        var deduper: StreamDeduper
        var failures = 0
        var alerted = false
        /// Output came since the current follow began (it caught up with what was written).
        var readSomething = false
        /// Woken by a change of the pod (or its deletion); the time-slice watcher also wakes by
        /// itself (at the slice's end, then every 5 s, or every second while streams wait).
        let wakeup = Wakeup()

        init(namespace: String, pod: String, container: String, node: String?, restarts: Int, running: Bool, floor: Int64) {
            self.namespace = namespace
            self.pod = pod
            self.container = container
            source = "\(KubernetesSourceService.sourceName)/\(namespace)/\(pod)/\(container)"
            origin = Origin(kind: .kubectl, name: "\(namespace)/\(pod)/\(container)", namespace: namespace, pod: pod, container: container, node: node)
            self.restarts = restarts
            previousPending = restarts > 0
            self.running = running
            deduper = StreamDeduper(floor: floor)
        }

        /// The pod changed (or is gone): a parked stream looks again.
        func poke() { wakeup.signal() }

        /// Waits for a change of the pod or `seconds`, whichever comes first.
        func waitForChange(_ seconds: Double) async {
            if !lock.withLock({ alive }) { return }
            await wakeup.wait(seconds: seconds)
        }
    }

    /// `proxySocket`: where `transport: kubectl-proxy` puts the proxy's unix socket.
    public init(settings: DaemonConfiguration.Kubernetes, kubectl: Kubectl, hub: Hub, tuning: Tuning, logger: Logger, proxySocket: String? = nil) {
        self.settings = settings
        self.kubectl = kubectl
        switch settings.transport {
        case .kubectlLogs:
            transport = KubectlLogsTransport(kubectl: kubectl, pipes: PipeReader(pacer: ReadPacer(interval: tuning.readInterval)))
        case .kubectlProxy:
            let socket = proxySocket ?? (kubectl.cacheDirectory ?? FileManager.default.temporaryDirectory.path) + "/kubectl-proxy.sock"
            transport = KubectlProxyTransport(
                kubectl: kubectl, socketPath: socket, maxStreams: settings.maxStreams,
                firstBackoff: tuning.firstBackoff, maxBackoff: tuning.maxBackoff, readInterval: tuning.readInterval, logger: logger)
        }
        self.hub = hub
        self.tuning = tuning
        self.logger = logger
        delivery = KubernetesDelivery(hub: hub, logger: logger)
        slots = StreamSlots(limit: settings.maxStreams)
        eventFloor = Self.decodeEventPosition(hub.position(of: Self.eventsSource))
            ?? (Int64((Date().timeIntervalSince1970 - settings.since) * 1e9), [:])
        delivery.onDelivered = { [weak self] source, time in
            guard let self else { return }
            self.lock.withLock { if self.lastLine[source] != nil || source.split(separator: "/").count == 4 { self.lastLine[source] = time } }
        }
    }

    /// The kubectl a configuration asks for: its binary, kubeconfig (default
    /// /etc/casewatch/kubeconfig when it exists), context, and `--cache-dir` in `cacheDirectory`.
    public static func kubectl(for settings: DaemonConfiguration.Kubernetes, cacheDirectory: String) -> Kubectl {
        var kubeconfig = settings.kubeconfig
        if kubeconfig == nil && FileManager.default.fileExists(atPath: Kubectl.systemKubeconfig) { kubeconfig = Kubectl.systemKubeconfig }
        return Kubectl(executable: settings.kubectl, kubeconfig: kubeconfig, context: settings.context, cacheDirectory: cacheDirectory)
    }

    // MARK: - Service

    public func run() async throws {
        delivery.start()
        let (spawns, continuation) = AsyncStream.makeStream(of: StreamState.self)
        lock.withLock { spawn = continuation }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                let scopes: [String?] = settings.namespaces.isEmpty ? [nil] : settings.namespaces.map { $0 }
                for scope in scopes {
                    group.addTask { await self.watchPods(namespace: scope, scopes: scopes.count) }
                    if self.settings.events { group.addTask { await self.watchEvents(namespace: scope) } }
                }
                group.addTask { await self.reportGauges() }
                group.addTask { await self.transport.run() }
                for await stream in spawns {
                    group.addTask { await self.follow(stream) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.markStarted()
            self.lock.withLock { self.spawn?.finish() }
            self.slots.releaseAll()
        }
        // The delivery first: it resumes the streams waiting for room, whose proxy requests
        // complete their promises on the transport's event loop, which must still run.
        delivery.stop()
        await transport.shutdown()
    }

    /// Returns once every pod watcher listed the pods once, or failed to and alerts: READY=1
    /// waits for this.
    public func awaitStarted() async {
        await withCheckedContinuation { c in
            lock.withLock { if started { c.resume() } else { startedWaiters.append(c) } }
        }
    }

    private func markStarted() {
        let waiters = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            started = true
            defer { startedWaiters = [] }
            return startedWaiters
        }
        for w in waiters { w.resume() }
    }

    /// Streams following now and waiting for a slot, for STATUS= and tests.
    public var streamCounts: (active: Int, waiting: Int) { (slots.active, slots.waiting) }

    func backoff(_ failures: Int) -> Double {
        let d = min(tuning.maxBackoff, tuning.firstBackoff * pow(2, Double(max(0, failures - 1))))
        return d * Double.random(in: 0.5...1.0)
    }

    func sleep(_ seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int64(max(0.001, seconds) * 1000)))
    }

    // MARK: - Pods

    private func scope(_ namespace: String?) -> KubernetesScope {
        KubernetesScope(namespace: namespace, selector: settings.selector, node: settings.node)
    }

    private func watchPods(namespace: String?, scopes: Int) async {
        var failures = 0
        var listedOnce = false
        while !Task.isCancelled {
            let list: Kubectl.Output
            do {
                list = try await transport.listPods(scope(namespace))
            } catch {
                await failed(KubectlFailure(kind: .other, line: "kubectl cannot be run: \(error)", host: nil), origin: nil)
                failures += 1
                apiFailed("kubectl cannot be run: \(error)")
                if !listedOnce { listedOnce = true; watcherListed(scopes) }
                await sleep(backoff(failures))
                continue
            }
            if Task.isCancelled { return }
            guard list.succeeded, let object = try? JSONSerialization.jsonObject(with: Data(list.stdout)) as? [String: Any] else {
                failures += 1
                let problems = KubectlFailure.parse(list.stderrText)
                for p in problems { await failed(p, origin: nil) }
                apiFailed(problems.first?.line ?? (list.timedOut ? "kubectl get pods timed out" : "kubectl get pods exited with status \(list.status)"))
                if !listedOnce { listedOnce = true; watcherListed(scopes) }
                await sleep(backoff(failures))
                continue
            }
            failures = 0
            apiRecovered()
            let items = object["items"] as? [[String: Any]] ?? []
            await reconcile(items, namespace: namespace)
            if !listedOnce { listedOnce = true; watcherListed(scopes) }
            // Then follow the changes (kubectl lists again first: known pods are only updated).
            var splitter = JSONObjectSplitter()
            let output = try? await transport.watchPods(scope(namespace)) { chunk in
                var objects: [[String: Any]] = []
                splitter.feed(chunk) { bytes in
                    if let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] { objects.append(o) }
                }
                for o in objects {
                    guard let pod = o["object"] as? [String: Any] else { continue }
                    if o["type"] as? String == "DELETED" { self.remove(pod) } else { await self.upsert(pod) }
                }
            }
            if Task.isCancelled { return }
            if let output, output.status != 0 {
                failures += 1
                let problems = KubectlFailure.parse(output.stderrText)
                for p in problems { await failed(p, origin: nil) }
                await sleep(backoff(failures))
            } else {
                // The server ended the watch (it does so every so often): list and watch again.
                await sleep(tuning.firstBackoff / 4)
            }
        }
    }

    private func watcherListed(_ scopes: Int) {
        let all = lock.withLock { () -> Bool in
            watchersListed += 1
            return watchersListed >= scopes
        }
        if all { markStarted() }
    }

    private func apiFailed(_ message: String) {
        let first = lock.withLock { () -> Bool in
            defer { apiFailing = true }
            return !apiFailing
        }
        if first {
            logger.error("Failed to list the pods, retrying", metadata: ["source": "kubernetes", "error": "\(message)"])
            hub.metrics.sourceReadError(source: Self.sourceName)
            hub.sourceFailing(Self.sourceName, error: message)
        }
    }

    private func apiRecovered() {
        let was = lock.withLock { () -> Bool in
            defer {
                apiFailing = false
                reportedCauses = reportedCauses.filter { !$0.hasPrefix("apiServer:") && !$0.hasPrefix("certificate:") && !$0.hasPrefix("other:") }
            }
            return apiFailing
        }
        if was {
            logger.notice("Listing the pods again", metadata: ["source": "kubernetes"])
            hub.sourceRecovered(Self.sourceName)
        }
    }

    /// The pods listed in a scope: add the new ones, update the known ones, release the gone.
    private func reconcile(_ items: [[String: Any]], namespace: String?) async {
        var present: Set<String> = []
        for pod in items {
            guard let m = pod["metadata"] as? [String: Any], let name = m["name"] as? String else { continue }
            present.insert("\((m["namespace"] as? String) ?? "default")/\(name)")
            await upsert(pod)
        }
        let gone = lock.withLock { pods.keys.filter { key in !present.contains(key) && (namespace == nil || key.hasPrefix("\(namespace!)/")) } }
        for key in gone { removeKey(key) }
        // Positions of pods that no longer exist (deleted while the daemon was down).
        let prefix = namespace.map { "\(Self.sourceName)/\($0)/" } ?? "\(Self.sourceName)/"
        hub.forgetPositions { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 4, name.hasPrefix(prefix) else { return false }
            return !present.contains("\(parts[1])/\(parts[2])")
        }
    }

    private func upsert(_ pod: [String: Any]) async {
        guard let metadata = pod["metadata"] as? [String: Any], let name = metadata["name"] as? String else { return }
        let namespace = metadata["namespace"] as? String ?? "default"
        let key = "\(namespace)/\(name)"
        let spec = pod["spec"] as? [String: Any] ?? [:]
        let status = pod["status"] as? [String: Any] ?? [:]
        let node = spec["nodeName"] as? String
        let names = ((spec["initContainers"] as? [[String: Any]] ?? []) + (spec["containers"] as? [[String: Any]] ?? [])).compactMap { $0["name"] as? String }
        var states: [String: (restarts: Int, running: Bool)] = [:]
        for c in (status["initContainerStatuses"] as? [[String: Any]] ?? []) + (status["containerStatuses"] as? [[String: Any]] ?? []) {
            guard let n = c["name"] as? String else { continue }
            let state = c["state"] as? [String: Any] ?? [:]
            states[n] = (c["restartCount"] as? Int ?? 0, state["running"] != nil)
        }
        var fresh: [StreamState] = []
        var poked: [StreamState] = []
        lock.withLock {
            let entry = pods[key] ?? PodEntry(namespace: namespace, name: name, node: node)
            entry.node = node ?? entry.node
            pods[key] = entry
            for c in names {
                let s = states[c] ?? (0, false)
                if let stream = entry.streams[c] {
                    stream.lock.withLock {
                        if s.restarts > stream.restarts { stream.previousPending = true }
                        stream.restarts = max(stream.restarts, s.restarts)
                        stream.running = s.running
                    }
                    poked.append(stream)
                } else {
                    let source = "\(Self.sourceName)/\(namespace)/\(name)/\(c)"
                    var floor = Int64((Date().timeIntervalSince1970 - settings.since) * 1e9)
                    if case .stream(let t)? = hub.position(of: source), let n = KubeTime.nanos(t) { floor = n }
                    let stream = StreamState(namespace: namespace, pod: name, container: c, node: node, restarts: s.restarts, running: s.running, floor: floor)
                    entry.streams[c] = stream
                    fresh.append(stream)
                }
            }
        }
        for s in poked { s.poke() }
        for s in fresh { _ = lock.withLock { spawn?.yield(s) } }
        if settings.status, let row = PodStatusRow(pod: pod) {
            let signature = row.isNotable ? "\(row.status)|\(row.restarts)" : nil
            let emit = lock.withLock { () -> Bool in
                defer { lastStatus[key] = signature }
                return signature != nil && lastStatus[key] != signature
            }
            if emit {
                let now = Date().timeIntervalSince1970
                let origin = Origin(kind: .events, name: key, namespace: namespace, pod: name, container: row.container, node: node)
                await delivery.enqueue(Self.statusSource, [LogRecord(row.line(now: now), origin: origin, time: now)])
            }
        }
    }

    private func remove(_ pod: [String: Any]) {
        guard let m = pod["metadata"] as? [String: Any], let name = m["name"] as? String else { return }
        removeKey("\((m["namespace"] as? String) ?? "default")/\(name)")
    }

    private func removeKey(_ key: String) {
        let entry = lock.withLock { () -> PodEntry? in
            lastStatus[key] = nil
            return pods.removeValue(forKey: key)
        }
        guard let entry else { return }
        for s in entry.streams.values {
            s.lock.withLock { s.alive = false }
            s.poke()
        }
        let prefix = "\(Self.sourceName)/\(key)/"
        hub.forgetPositions { $0.hasPrefix(prefix) }
        lock.withLock { for s in entry.streams.values { lastLine[s.source] = nil } }
    }

    // MARK: - Logs

    enum Outcome {
        /// kubectl ended on its own (the container stopped, the server closed the stream).
        case ended
        /// The slot was given up to a waiting stream.
        case yielded
        case failed([KubectlFailure], String)
    }

    private func follow(_ s: StreamState) async {
        while !Task.isCancelled && s.lock.withLock({ s.alive }) {
            let waiting = slots.hasWaiters
            await slots.acquire()
            if waiting { hub.metrics.kubernetesStreamWaited() }
            if Task.isCancelled || !s.lock.withLock({ s.alive }) {
                slots.release()
                break
            }
            let outcome = await followOnce(s)
            slots.release()
            switch outcome {
            case .yielded:
                continue
            case .ended:
                recovered(s)
                hub.metrics.kubernetesStreamRestart()
                // A container that is not running has nothing more to say until it changes.
                if s.lock.withLock({ s.running }) {
                    await sleep(tuning.firstBackoff / 4 * Double.random(in: 0.5...1.0))
                } else {
                    await s.waitForChange(tuning.maxBackoff)
                }
            case .failed(let problems, let message):
                hub.metrics.kubernetesStreamRestart()
                if problems.allSatisfy({ $0.kind == .notReady }) && !problems.isEmpty {
                    await s.waitForChange(tuning.maxBackoff)
                    continue
                }
                if problems.contains(where: { $0.kind == .notFound }) && !s.lock.withLock({ s.alive }) { break }
                for p in problems { await failed(p, origin: s.origin) }
                let (failures, alert) = s.lock.withLock { () -> (Int, Bool) in
                    s.failures += 1
                    let alert = s.failures >= tuning.failuresBeforeAlert && !s.alerted
                    if alert { s.alerted = true }
                    return (s.failures, alert)
                }
                if alert && !lock.withLock({ apiFailing }) {
                    logger.error("A pod log stream keeps failing, retrying", metadata: ["stream": "\(s.source)", "error": "\(message)"])
                    hub.metrics.sourceReadError(source: Self.sourceName)
                    // A summary, not kubectl's line: that line is a record of its own already
                    // (and would match its case a second time here).
                    let cause = problems.first.map { "\($0.kind.rawValue)\($0.host.map { " \($0)" } ?? "")" } ?? "exit"
                    hub.sourceFailing(s.source, error: "kubectl logs failed \(failures) times in a row (\(cause)), retrying")
                }
                await s.waitForChange(backoff(failures))
            }
        }
        lock.withLock { lastLine[s.source] = nil }
        if s.lock.withLock({ s.alerted }) { hub.sourceRecovered(s.source) }
    }

    /// The stream reads again: its failures are forgotten, its casewatch-source-failing alert
    /// resolved. `now: false` (on a reading thread, which must not wait for the sinks): the
    /// alert is resolved from a task.
    private func recovered(_ s: StreamState, now: Bool = true) {
        let alerted = s.lock.withLock { () -> Bool in
            defer {
                s.failures = 0
                s.alerted = false
            }
            return s.alerted
        }
        guard alerted else { return }
        if now { hub.sourceRecovered(s.source) } else { Task { self.hub.sourceRecovered(s.source) } }
    }

    /// A log's bytes → records (lines not scanned yet) → the delivery queue, on the thread that
    /// read them.
    private func logOutput(_ s: StreamState, previous: Bool) -> LogOutput {
        final class Reader: @unchecked Sendable {
            let lock = NSLock()
            var value: LineReader
            init(_ value: LineReader) { self.value = value }
        }
        let reader = Reader(LineReader(stream: s, previous: previous))
        let delivery = self.delivery
        return LogOutput(
            take: { [weak self] chunk in
                let records = reader.lock.withLock { reader.value.feed(chunk) }
                s.lock.withLock { s.readSomething = true }
                if !records.isEmpty && !previous { self?.recovered(s, now: false) }
                return delivery.offer(s.source, records)
            },
            room: { await delivery.room() })
    }

    /// Reads the previous log if one is due, then follows the current log until kubectl ends,
    /// fails, or the slot is wanted by a waiting stream.
    private func followOnce(_ s: StreamState) async -> Outcome {
        if s.lock.withLock({ s.previousPending }) {
            do {
                let out = try await transport.log(namespace: s.namespace, pod: s.pod, container: s.container, previous: true, since: nil, output: logOutput(s, previous: true))
                let problems = KubectlFailure.parse(out.stderrText)
                if out.succeeded || problems.contains(where: { $0.kind == .notReady || $0.kind == .notFound }) {
                    s.lock.withLock { s.previousPending = false }
                } else {
                    return .failed(problems, problems.first?.line ?? "kubectl logs --previous exited with status \(out.status)")
                }
            } catch {
                return .failed([], "\(error)")
            }
        }
        let since = s.lock.withLock { () -> Int64 in
            s.readSomething = false
            return max(s.deduper.floor, s.deduper.newest)
        }
        let output = logOutput(s, previous: false)
        // Jittered (±25 %): streams that started together do not all give their slots up, and
        // open their next requests, in the same instant (a burst on the API server).
        let slice = tuning.slice * Double.random(in: 0.75...1.25)
        let slots = self.slots
        let result: (Kubectl.Output?, Error?, Bool) = await withTaskGroup(of: (Kubectl.Output?, Error?, Bool).self) { group in
            group.addTask {
                do {
                    let out = try await self.transport.log(namespace: s.namespace, pod: s.pod, container: s.container, previous: false, since: since, output: output)
                    return (out, nil, false)
                } catch {
                    return (nil, error, false)
                }
            }
            group.addTask {
                // Give the slot up after a time slice when other streams wait for one: once the
                // stream has caught up (read something), or, for a silent container, after
                // max(15 s, 4 slices) (a kubectl that takes long to start on a busy machine must
                // not be stopped before its first request, or no stream ever gets anywhere).
                // A restart seen while following (the new container's stream may have started
                // before the pod watch told of the restart) ends the follow too, so that the
                // previous log is read now, not at the next slice. No timer per second per
                // stream: the stream's wakeup fires at the slice's end or when the pod changes;
                // past the slice it looks every second only while another stream waits.
                let started = Date()
                while !Task.isCancelled {
                    let elapsed = Date().timeIntervalSince(started)
                    await s.wakeup.wait(seconds: elapsed < slice ? slice - elapsed : (slots.hasWaiters ? min(slice, 1) : min(slice, 5)))
                    if Task.isCancelled { break }
                    if s.lock.withLock({ s.previousPending }) { return (nil, nil, true) }
                    let now = Date().timeIntervalSince(started)
                    guard now >= slice else { continue }
                    let silentTooLong = now >= max(15, 4 * slice)
                    if slots.hasWaiters && (s.lock.withLock { s.readSomething } || silentTooLong) { return (nil, nil, true) }
                }
                return (nil, nil, false)
            }
            let first = await group.next()!
            group.cancelAll()
            _ = await group.next()
            return first
        }
        if result.2 { return .yielded }
        if let error = result.1 { return .failed([], "\(error)") }
        guard let out = result.0 else { return .yielded }
        if out.status == 0 { return .ended }
        let problems = KubectlFailure.parse(out.stderrText)
        return .failed(problems, problems.first?.line ?? "kubectl logs exited with status \(out.status)")
    }

    /// Splits kubectl's `--timestamps` output into records, keeping only lines not scanned yet.
    struct LineReader {
        let stream: StreamState
        let previous: Bool
        var pending: [UInt8] = []
        static let maxLine = 64 * 1024

        init(stream: StreamState, previous: Bool) {
            self.stream = stream
            self.previous = previous
        }

        mutating func feed(_ chunk: [UInt8]) -> [LogRecord] {
            var out: [LogRecord] = []
            var start = 0
            for i in chunk.indices where chunk[i] == 0x0A {
                if pending.isEmpty {
                    line(chunk[start..<i], into: &out)
                } else {
                    pending.append(contentsOf: chunk[start..<i])
                    line(pending[...], into: &out)
                    pending.removeAll(keepingCapacity: true)
                }
                start = i + 1
            }
            if start < chunk.count {
                pending.append(contentsOf: chunk[start...])
                if pending.count > Self.maxLine * 16 {
                    // A line without an end: hand over its start, drop the rest until a newline.
                    line(pending[...], into: &out)
                    pending.removeAll()
                }
            }
            return out
        }

        // What is left when kubectl ended (a last line without its newline: a follow stream cut
        // mid-line) is dropped with the reader; it comes again when the stream resumes.

        private func line(_ bytes: ArraySlice<UInt8>, into out: inout [LogRecord]) {
            guard let space = bytes.firstIndex(of: 0x20) else { return }
            guard let time = KubeTime.nanos(bytes[bytes.startIndex..<space]) else { return }
            var text = bytes[(space + 1)...]
            if text.last == 0x0D { text = text.dropLast() }
            if text.count > Self.maxLine { text = text.prefix(Self.maxLine) }
            let admitted = text.withUnsafeBytes { raw in
                stream.lock.withLock {
                    previous ? stream.deduper.admitPrevious(time: time, text: raw) : stream.deduper.admitFollowed(time: time, text: raw)
                }
            }
            guard admitted else { return }
            let stamp = String(decoding: bytes[bytes.startIndex..<space], as: UTF8.self)
            out.append(LogRecord(line: Array(text), origin: stream.origin, time: Double(time) / 1e9, position: .stream(timestamp: stamp)))
        }
    }

    // MARK: - Events

    private func watchEvents(namespace: String?) async {
        var failures = 0
        while !Task.isCancelled {
            var splitter = JSONObjectSplitter()
            let output: Kubectl.Output?
            do {
                output = try await transport.watchEvents(namespace: namespace) { chunk in
                    var objects: [[String: Any]] = []
                    splitter.feed(chunk) { bytes in
                        if let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] { objects.append(o) }
                    }
                    for o in objects where o["type"] as? String != "DELETED" {
                        if let e = o["object"] as? [String: Any] { await self.event(e) }
                    }
                }
            } catch {
                output = nil
            }
            if Task.isCancelled { return }
            if let output, output.status == 0 {
                failures = 0
                await sleep(tuning.firstBackoff / 4)
            } else {
                failures += 1
                for p in KubectlFailure.parse(output?.stderrText ?? "") { await failed(p, origin: nil) }
                await sleep(backoff(failures))
            }
        }
    }

    private func event(_ object: [String: Any]) async {
        guard let e = EventLine(event: object) else { return }
        let admit = lock.withLock { () -> Bool in
            if e.count <= seenEvents[e.uid] ?? 0 { return false }
            if e.last < eventFloor.time { return false }
            if e.last == eventFloor.time, e.count <= eventFloor.atTime[e.uid] ?? 0 { return false }
            // With `node` (one instance per node): the events of this node (its kubelet) and of
            // its pods, and those of no node at all (the scheduler's FailedScheduling of a pod no
            // node took, a PVC's provisioning, a controller's FailedCreate), which every instance
            // reads: their alerts carry no instance label, so Alertmanager merges them.
            if let node = settings.node, let host = e.host, !host.isEmpty, host != node,
                !(e.involvedKind == "Pod" && pods["\(e.namespace)/\(e.involvedName)"] != nil)
            {
                return false
            }
            seenEvents[e.uid] = e.count
            if seenEvents.count > 50_000 { seenEvents.removeAll() }
            if e.last > eventFloor.time { eventFloor = (e.last, [:]) }
            if e.last == eventFloor.time { eventFloor.atTime[e.uid] = e.count }
            return true
        }
        guard admit else { return }
        let isPod = e.involvedKind == "Pod"
        let origin = Origin(
            kind: .events, name: "\(e.namespace)/\(isPod ? "" : e.involvedKind + "/")\(e.involvedName)", namespace: e.namespace,
            pod: isPod ? e.involvedName : nil, container: e.container, node: e.host)
        let position = lock.withLock { Self.encodeEventPosition(eventFloor) }
        let now = Date().timeIntervalSince1970
        await delivery.enqueue(Self.eventsSource, [LogRecord(e.line(now: now), origin: origin, time: Double(e.last) / 1e9, position: position)])
    }

    /// "T uid=count uid=count": the newest event time delivered and the counts seen at it.
    static func encodeEventPosition(_ floor: (time: Int64, atTime: [String: Int])) -> RecordPosition {
        .stream(timestamp: ([KubeTime.format(floor.time)] + floor.atTime.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " "))
    }

    static func decodeEventPosition(_ position: RecordPosition?) -> (Int64, [String: Int])? {
        guard case .stream(let text)? = position else { return nil }
        let parts = text.split(separator: " ")
        guard let first = parts.first, let t = KubeTime.nanos(String(first)) else { return nil }
        var at: [String: Int] = [:]
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=")
            if kv.count == 2, let n = Int(kv[1]) { at[String(kv[0])] = n }
        }
        return (t, at)
    }

    // MARK: - kubectl's errors

    /// A failure kubectl printed: a record (some are cases), once per cause.
    private func failed(_ failure: KubectlFailure, origin: Origin?) async {
        guard failure.kind != .notReady, failure.kind != .notFound else { return }
        let first = lock.withLock { reportedCauses.insert(failure.cause).inserted }
        guard first else { return }
        logger.warning("kubectl failed, retrying", metadata: ["error": "\(failure.line)"])
        var o = origin ?? Origin(kind: .kubectl, name: "kubectl")
        o.host = failure.host
        await delivery.enqueue(Self.errorsSource, [LogRecord(failure.line, origin: o, time: Date().timeIntervalSince1970)])
    }

    // MARK: - Metrics

    private func reportGauges() async {
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            let oldest = lock.withLock { lastLine.values.min() }
            hub.metrics.kubernetesStreams(active: slots.active, waiting: slots.waiting, peak: slots.peak, oldestLineAge: oldest.map { now - $0 } ?? 0)
            await sleep(max(1, min(15, tuning.maxBackoff)))
        }
    }
}

extension DaemonMetrics {
    /// Pod log streams following and waiting for a slot, the most that followed at once since
    /// the start (`max_streams` holds), and the age of the oldest "last line" among the followed
    /// streams (a stream that went silent or stalled shows here; no pod names as labels).
    func kubernetesStreams(active: Int, waiting: Int, peak: Int, oldestLineAge: Double) {
        gauge("casewatch_kubernetes_streams", [("state", "active")]).record(active)
        gauge("casewatch_kubernetes_streams", [("state", "waiting")]).record(waiting)
        gauge("casewatch_kubernetes_streams", [("state", "peak")]).record(peak)
        gauge("casewatch_kubernetes_stream_last_line_age_max_seconds", []).record(max(0, oldestLineAge))
    }

    /// A pod log stream ended and is started again.
    func kubernetesStreamRestart() {
        counter("casewatch_kubernetes_stream_restarts_total", []).increment()
    }

    /// A stream had to wait for a slot (`max_streams`).
    func kubernetesStreamWaited() {
        counter("casewatch_kubernetes_stream_waits_total", []).increment()
    }
}
