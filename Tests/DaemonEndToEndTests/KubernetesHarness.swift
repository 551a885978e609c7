import Foundation
import TestSupport

/// `casewatch run` with `sources.kubernetes` against the suite's loopback API server, through a
/// real kubectl binary; alerts as JSON lines on the console sink (no journald needed), READY=1 on
/// a notify socket the test owns.
final class KubernetesHarness: @unchecked Sendable {
    let server: KubeAPIServer
    let dir: URL
    let notify: NotifySocket
    let kubectl: String
    /// `transport:` of `sources.kubernetes`.
    let transport: String
    var daemon: SpawnedProcess?
    /// Every run's standard output, oldest first (a restarted daemon prints to a new file).
    var outputs: [SpawnedProcess] = []
    var configPath: String { dir.appendingPathComponent("casewatch.yaml").path }
    var stateDir: String { dir.appendingPathComponent("state").path }
    var patternsDir: String { dir.appendingPathComponent("patterns.d").path }
    var kubeconfig: String { dir.appendingPathComponent("kubeconfig").path }

    init(kubectl version: String, transport: String = "kubectl-logs") throws {
        self.transport = transport
        guard let path = KubectlBinaries.path(version) else { throw Failure("kubectl.\(version) is not installed beside kubectl") }
        kubectl = path
        server = try KubeAPIServer()
        dir = Paths.temporaryDirectory("casewatch-kube")
        notify = NotifySocket(path: dir.appendingPathComponent("notify").path)
        try FileManager.default.createDirectory(atPath: patternsDir, withIntermediateDirectories: true)
        try server.writeKubeconfig(to: kubeconfig)
        try notify.open()
        // The probe case: one alert per line (dedup off), so the test counts lines.
        try operatorCaseYAML(id: "probe", symptomID: "line", regex: "probe-line (?<n>[0-9]+)", example: "probe-line 1")
            .write(toFile: patternsDir + "/probe.yaml", atomically: true, encoding: .utf8)
    }

    deinit {
        if let daemon, daemon.isRunning { Self.killWithChildren(daemon) }
        server.stop()
        notify.close()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Writes the configuration; `kubernetes` is YAML of extra keys of `sources.kubernetes`;
    /// `metricsPort`: `metrics.listen` on 127.0.0.1.
    func configure(_ kubernetes: String = "", dedup: Bool = false, metricsPort: Int? = nil) throws {
        let extra = kubernetes.isEmpty ? "" : "\n" + kubernetes.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        try """
            state_dir: \(stateDir)
            dedup: {enabled: \(dedup)}
            patterns: {dirs: [\(patternsDir)]}
            sinks: {console: {format: json}}
            \(metricsPort.map { "metrics: {listen: \"127.0.0.1:\($0)\"}" } ?? "")
            sources:
              kubernetes:
                kubeconfig: \(kubeconfig)
                kubectl: \(kubectl)
                transport: \(transport)\(extra)

            """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts `casewatch run` and waits for READY=1. Backoffs are short (`--retry-delay 0.5`:
    /// at most 3 s between two tries) and a stream gives its slot up after `slice` seconds when
    /// others wait.
    @discardableResult
    func start(slice: Double = 0.5) throws -> SpawnedProcess {
        var env = DaemonHarness.environment(notify: notify.path)
        env["CASEWATCH_KUBERNETES_SLICE"] = "\(slice)"
        // The benchmark runs a release build (CASEWATCH_BENCH_BINARY); the tests the debug one.
        let binary = ProcessInfo.processInfo.environment["CASEWATCH_BENCH_BINARY"] ?? Paths.casewatch
        let d = try SpawnedProcess(
            executable: binary,
            arguments: ["run", "--config", configPath, "--cache-dir", dir.appendingPathComponent("cache").path, "--retry-delay", "0.5"],
            environment: env, directory: dir)
        daemon = d
        outputs.append(d)
        guard notify.await("READY=1", timeout: 60) else { throw Failure("casewatch run did not say READY=1: \(d.stderr)") }
        return d
    }

    /// SIGKILL, as a crash (its kubectl children too: under systemd the unit's control group
    /// goes with it; here they would stream on, orphaned, into the test's directory).
    func kill() {
        guard let daemon else { return }
        Self.killWithChildren(daemon)
        self.daemon = nil
    }

    static func killWithChildren(_ daemon: SpawnedProcess) {
        let pid = daemon.pid
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let children = tasks.flatMap { task -> [pid_t] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { pid_t($0) }
        }
        daemon.signal(SIGKILL)
        daemon.wait()
        for child in children { Foundation.kill(child, SIGKILL) }
    }

    /// The daemon's `kubectl proxy` child (transport kubectl-proxy), nil while there is none.
    func proxyPID() -> pid_t? {
        guard let daemon else { return nil }
        let pid = daemon.pid
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            for child in text.split(separator: " ").compactMap({ pid_t($0) }) {
                let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/cmdline"))) ?? Data()
                let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if args.contains("proxy") { return child }
            }
        }
        return nil
    }

    /// Every alert printed by every run so far.
    var alerts: [[String: Any]] {
        outputs.flatMap { p in
            p.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    /// Polls (no event to wait on: the console is a file) until `count` alerts match, or the
    /// deadline; returns those that match.
    @discardableResult
    func awaitAlerts(count: Int, timeout: Double = 60, matching: ([String: Any]) -> Bool = { _ in true }) -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let found = alerts.filter(matching)
            if found.count >= count || Date() >= deadline { return found }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The probe numbers alerted, one entry per alert.
    var probeNumbers: [Int] {
        alerts.filter { $0["case_id"] as? String == "probe" && $0["state"] as? String == "firing" }
            .compactMap { ($0["captures"] as? [String: Any])?["n"] as? String }.compactMap(Int.init)
    }

    /// Waits until `numbers` are all alerted; returns the alerted numbers.
    @discardableResult
    func awaitProbes(_ numbers: ClosedRange<Int>, timeout: Double = 60) -> [Int] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let seen = probeNumbers
            if Set(numbers).isSubset(of: Set(seen)) || Date() >= deadline { return seen }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The saved state (positions), polled until `condition` holds or the deadline.
    func awaitState(timeout: Double = 30, _ condition: ([String: Any]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: stateDir + "/state.json"),
                let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], condition(o)
            {
                return true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The alert's origin field.
    func origin(_ field: String) -> String? { (self["origin"] as? [String: Any])?[field] as? String }
}
