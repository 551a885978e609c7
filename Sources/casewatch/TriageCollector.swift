import Foundation
import LogSources

/// One snapshot of a cluster for `casewatch triage`: the pods that are neither Ready nor
/// Completed with their `kubectl get pods` rows, a describe-like text and the logs of each, the
/// Warning events of the namespaces and the helm releases that failed or are pending; all of it as
/// files in the `kubectl logs --prefix` form (with the namespace), ready for the scan pipeline and
/// for `--output-dir`.
///
/// The plan, for a cluster of any size:
/// 1. at once: the pod list (`get pods -A`, or one per `-n`), the events (`get events -A`, or one
///    per `-n`: every type, so a pod's describe has its Normal events too; the namespace files
///    keep the Warnings) and `helm list`;
/// 2. then, per unhealthy pod, per container that ran: its current log, and its previous log when
///    it restarted or waits after a run (`--timestamps --since --limit-bytes`).
/// At most `concurrency` kubectl processes run at a time, each within `callTimeout`, all within
/// the global `deadline`; a call that fails or does not fit in the time left is noted in
/// `problems` and the rest is still scanned.
struct TriageCollector: Sendable {
    var kubectl: TriageKubectl
    /// Empty: all namespaces.
    var namespaces: [String]
    var sinceSeconds: Int
    var logCap: Int
    var listCap: Int = 256 << 20
    var callTimeout: Double
    var deadline: ContinuousClock.Instant
    var concurrency: Int
    /// The helm program, or nil when it is not on PATH.
    var helm: String?

    /// One file of the snapshot: its name in the output directory and its lines, prefixed.
    struct File: Sendable {
        var name: String
        var lines: [String]
        var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }
    }

    /// Something triage could not read, and why.
    struct Problem: Sendable, Encodable {
        enum Reason: String, Sendable, Encodable {
            /// RBAC: the API server answered 403.
            case forbidden
            /// The API server could not reach the node's kubelet (port 10250).
            case kubeletUnreachable = "kubelet_unreachable"
            /// The call did not finish within its time limit, or the global one had passed.
            case timeout
            /// The API server could not be reached.
            case unreachable
            /// The credentials were refused (401).
            case unauthorized
            /// TLS: an unknown authority or a bad certificate.
            case certificate
            /// The container has no log (yet, or any more): waiting to start, previous run gone.
            case notReady = "not_ready"
            /// The pod is gone.
            case notFound = "not_found"
            /// Anything else kubectl or helm reported.
            case error
        }

        var what: String
        var namespace: String?
        var pod: String?
        var container: String?
        var reason: Reason
        var message: String
    }

    struct HelmRelease: Sendable, Codable {
        var name: String
        var namespace: String
        var revision: String?
        var updated: String?
        var status: String
        var chart: String?
        var app_version: String?
    }

    enum HelmPart: Sendable {
        case skipped(String)
        case failed(String)
        case read([HelmRelease])
    }

    struct Snapshot: Sendable {
        var podsListed = 0
        var unhealthy: [TriagePod] = []
        var rows: [TriagePod.Row] = []
        var files: [File] = []
        var problems: [Problem] = []
        var logsRead = 0
        var eventsRead = 0
        var helm: HelmPart = .skipped("")
        /// Whether any call got an answer from the API server.
        var reachable = false
        /// What the first call that could not reach the server said.
        var unreachableMessage: String?
    }

    private typealias Call = @Sendable () async -> TriageKubectl.Result

    func collect(now: Double) async -> Snapshot {
        var snap = Snapshot()
        let scopeArgs: [[String]] = namespaces.isEmpty ? [["-A"]] : namespaces.map { ["-n", $0] }

        // 1. Pods, events and helm at once.
        var first: [(kind: String, ns: String?, call: Call)] = []
        for a in scopeArgs {
            let ns = a.first == "-n" ? a.last : nil
            first.append(("pods", ns, { await self.call(["get", "pods"] + a + ["-o", "json"], cap: self.listCap) }))
            first.append(("events", ns, { await self.call(["get", "events"] + a + ["-o", "json"], cap: self.listCap) }))
        }
        if let helm {
            for a in scopeArgs {
                first.append(("helm", nil, { await self.helmCall(helm, ["list"] + a + ["--failed", "--pending", "-o", "json"]) }))
            }
        } else {
            snap.helm = .skipped("helm is not on PATH")
        }
        let results = await bounded(first.map(\.call))
        var pods: [TriagePod] = []
        var events: [TriageEvent] = []
        var releases: [HelmRelease] = []
        var helmError: String?
        // What kubectl and helm said when a list failed: scanned too (a file of plain lines).
        var errorLines: [String] = []
        for ((kind, ns, _), r) in zip(first, results) {
            if !r.ok && !r.timedOut { errorLines += r.stderr.split(separator: "\n").map(String.init).filter { !TriageKubectl.isKlog($0) } }
            switch kind {
            case "pods":
                note(r, into: &snap)
                if r.ok, let list = decode(TriagePodList.self, r, what: "pods", ns: ns, into: &snap) { pods += list.items }
                else if !r.ok { snap.problems.append(problem(r, what: "kubectl get pods", ns: ns)) }
            case "events":
                note(r, into: &snap)
                if r.ok, let list = decode(TriageEventList.self, r, what: "events", ns: ns, into: &snap) { events += list.items }
                else if !r.ok { snap.problems.append(problem(r, what: "kubectl get events", ns: ns)) }
            default:
                if r.ok {
                    if let list = try? JSONDecoder().decode([HelmRelease].self, from: r.stdout) {
                        releases += list
                    } else {
                        helmError = "helm list printed something that is not its JSON release list"
                    }
                } else {
                    helmError = r.message
                }
            }
        }
        if helm != nil {
            if let helmError, releases.isEmpty {
                snap.helm = .failed(helmError)
                snap.problems.append(Problem(what: "helm list", reason: .error, message: helmError))
            } else {
                snap.helm = .read(releases)
            }
        }
        snap.podsListed = pods.count
        let cutoff = now - Double(sinceSeconds)
        events = events.filter { ($0.lastSeen ?? now) >= cutoff }
        snap.unhealthy = pods.filter(\.isUnhealthy).sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        snap.rows = snap.unhealthy.map { $0.row(now: now) }

        // The pods' rows, as `kubectl get pods -A` prints them (without its header: each line
        // carries its origin).
        if !snap.rows.isEmpty {
            let table = Self.columns(snap.rows.map { [$0.namespace, $0.name, $0.ready, $0.status, $0.restarts, $0.age] })
            snap.files.append(File(name: "pods.log", lines: zip(snap.rows, table).map { "[pod/\($0.namespace)/\($0.name)/] \($1)" }))
        }
        // Describes, with each pod's events.
        var podEvents: [String: [TriageEvent]] = [:]
        for e in events where e.involvedObject.kind == "Pod" { podEvents["\(e.namespace)/\(e.involvedObject.name ?? "")", default: []].append(e) }
        let described = Set(snap.unhealthy.map { "\($0.namespace)/\($0.name)" })
        for pod in snap.unhealthy {
            let evs = podEvents["\(pod.namespace)/\(pod.name)"] ?? []
            snap.eventsRead += evs.count
            snap.files.append(File(
                name: "\(pod.namespace)_\(pod.name).describe.log",
                lines: pod.describe(events: evs, now: now).map { "[pod/\(pod.namespace)/\(pod.name)/] \($0)" }))
        }
        // The namespaces' other Warning events.
        var byNamespace: [String: [TriageEvent]] = [:]
        for e in events where e.isWarning {
            let key = "\(e.namespace)/\(e.involvedObject.name ?? "")"
            if e.involvedObject.kind == "Pod" && described.contains(key) { continue }
            byNamespace[e.namespace, default: []].append(e)
        }
        for (ns, evs) in byNamespace.sorted(by: { $0.key < $1.key }) {
            snap.eventsRead += evs.count
            let lines = evs.sorted { ($0.lastSeen ?? 0) < ($1.lastSeen ?? 0) }.map { e -> String in
                let pod = e.involvedObject.kind == "Pod" ? (e.involvedObject.name ?? "") : ""
                return "[pod/\(ns)/\(pod)/] \(e.getLine(now: now))"
            }
            snap.files.append(File(name: "\(ns).events.log", lines: lines))
        }
        // helm releases, as `helm list` prints them.
        if case .read(let list) = snap.helm, !list.isEmpty {
            let table = Self.columns(list.map { [$0.name, $0.namespace, $0.revision ?? "", $0.updated ?? "", $0.status, $0.chart ?? "", $0.app_version ?? ""] })
            snap.files.append(File(name: "helm.log", lines: zip(list, table).map { "[pod/\($0.namespace)//] \($1)" }))
        }

        if !errorLines.isEmpty { snap.files.append(File(name: "errors.log", lines: errorLines)) }

        // 2. Logs.
        struct LogCall {
            var pod: TriagePod
            var container: String
            var previous: Bool
        }
        var plan: [LogCall] = []
        for pod in snap.unhealthy {
            for c in Self.logPlan(pod) { plan.append(LogCall(pod: pod, container: c.container, previous: c.previous)) }
        }
        let logResults = await bounded(plan.map { p in
            { @Sendable in
                var args = ["logs", "-n", p.pod.namespace, p.pod.name, "-c", p.container, "--timestamps",
                            "--since=\(self.sinceSeconds)s", "--limit-bytes=\(self.logCap)"]
                if p.previous { args.append("--previous") }
                return await self.call(args, cap: self.logCap + 4096)
            } as Call
        })
        for (p, r) in zip(plan, logResults) {
            note(r, into: &snap)
            let prefix = "[pod/\(p.pod.namespace)/\(p.pod.name)/\(p.container)] "
            var lines: [String]
            if r.ok {
                snap.logsRead += 1
                lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if lines.last == "" { lines.removeLast() }
            } else {
                var pr = problem(r, what: p.previous ? "kubectl logs --previous" : "kubectl logs", ns: p.pod.namespace)
                pr.pod = p.pod.name
                pr.container = p.container
                snap.problems.append(pr)
                // kubectl's own message goes through the scan too: a kubelet out of reach is a case.
                lines = r.timedOut ? [] : r.stderr.split(separator: "\n").map(String.init)
            }
            guard !lines.isEmpty else { continue }
            snap.files.append(File(
                name: "\(p.pod.namespace)_\(p.pod.name)_\(p.container).\(p.previous ? "1-previous" : "2-current").log",
                lines: lines.map { prefix + $0 }))
        }
        snap.files.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return snap
    }

    /// Which logs of a pod to read: the current log of every container that ran and is not both
    /// ready and never restarted, and the previous log of those that restarted or wait after a
    /// run (CrashLoopBackOff). Init containers that finished well are left out.
    static func logPlan(_ pod: TriagePod) -> [(container: String, previous: Bool)] {
        var out: [(String, Bool)] = []
        let statuses = (pod.status?.initContainerStatuses ?? []) + (pod.status?.containerStatuses ?? [])
        for c in statuses {
            let restarts = c.restartCount ?? 0
            if c.state?.terminated?.exitCode == 0 && restarts == 0 { continue }
            if c.ready == true && restarts == 0 { continue }
            let ran = c.state?.running != nil || c.state?.terminated != nil || c.lastState?.terminated != nil
            if ran { out.append((c.name, false)) }
            if restarts > 0 || (c.state?.waiting != nil && c.lastState?.terminated != nil) { out.append((c.name, true)) }
        }
        return out
    }

    /// Left-aligned columns three spaces apart, as kubectl's tables.
    static func columns(_ rows: [[String]]) -> [String] {
        guard let n = rows.first?.count else { return [] }
        let widths = (0..<n).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { r in
            r.enumerated().map { i, v in i == n - 1 ? v : v.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0) }.joined()
                .trimmingCharacters(in: .whitespaces)
        }
    }

    // MARK: - Calls

    private func call(_ args: [String], cap: Int) async -> TriageKubectl.Result {
        let left = deadline - ContinuousClock.now
        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        guard seconds > 0.05 else {
            return .init(status: -1, stdout: Data(), stderr: "", timedOut: true, truncated: false)
        }
        return await kubectl.run(args, timeout: min(callTimeout, seconds), cap: cap)
    }

    private func helmCall(_ helm: String, _ args: [String]) async -> TriageKubectl.Result {
        var a = args
        if let c = kubectl.context { a += ["--kube-context", c] }
        if let k = kubectl.kubeconfig { a += ["--kubeconfig", k] }
        let left = deadline - ContinuousClock.now
        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        return await TriageKubectl.run(helm, a, timeout: min(callTimeout, max(seconds, 0.1)), cap: listCap)
    }

    /// Runs the calls, at most `concurrency` at a time; the results in the calls' order.
    private func bounded(_ calls: [Call]) async -> [TriageKubectl.Result] {
        var results = [TriageKubectl.Result?](repeating: nil, count: calls.count)
        await withTaskGroup(of: (Int, TriageKubectl.Result).self) { group in
            var next = 0
            while next < min(concurrency, calls.count) {
                let i = next, c = calls[i]
                group.addTask { (i, await c()) }
                next += 1
            }
            while let (i, r) = await group.next() {
                results[i] = r
                if next < calls.count {
                    let j = next, c = calls[j]
                    group.addTask { (j, await c()) }
                    next += 1
                }
            }
        }
        return results.map { $0! }
    }

    /// Whether the call reached the API server.
    private func note(_ r: TriageKubectl.Result, into snap: inout Snapshot) {
        if r.ok || r.stderr.contains("Error from server") {
            snap.reachable = true
        } else if snap.unreachableMessage == nil, !Self.notRun(r) {
            snap.unreachableMessage = r.message
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ r: TriageKubectl.Result, what: String, ns: String?, into snap: inout Snapshot) -> T? {
        if r.truncated {
            snap.problems.append(Problem(what: "kubectl get \(what)", namespace: ns, reason: .error, message: "the list is larger than \(listCap) bytes"))
            return nil
        }
        do {
            return try JSONDecoder().decode(T.self, from: r.stdout)
        } catch {
            snap.problems.append(Problem(what: "kubectl get \(what)", namespace: ns, reason: .error, message: "Failed to read kubectl's JSON: \(error)"))
            return nil
        }
    }

    private func problem(_ r: TriageKubectl.Result, what: String, ns: String?) -> Problem {
        Problem(what: what, namespace: ns, reason: Self.classify(r), message: Self.notRun(r) ? "the time limit had passed before it could run" : r.message)
    }

    /// A call that was not started: the global time limit had passed.
    static func notRun(_ r: TriageKubectl.Result) -> Bool { r.timedOut && r.status == -1 }

    /// Why a call failed, read from kubectl's message by the Kubernetes source's `KubectlFailure`
    /// (the most telling cause when it prints several lines).
    static func classify(_ r: TriageKubectl.Result) -> Problem.Reason {
        if r.timedOut { return .timeout }
        let kinds = Set(KubectlFailure.parse(r.stderr).map(\.kind))
        let order: [(KubectlFailure.Kind, Problem.Reason)] = [
            (.kubelet, .kubeletUnreachable), (.forbidden, .forbidden), (.unauthorized, .unauthorized),
            (.certificate, .certificate), (.notReady, .notReady), (.notFound, .notFound), (.apiServer, .unreachable),
        ]
        return order.first { kinds.contains($0.0) }?.1 ?? .error
    }
}
