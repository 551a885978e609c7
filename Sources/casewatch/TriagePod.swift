import Foundation
import LogSources

/// The parts of a Kubernetes pod that `casewatch triage` reads from `kubectl get pods -o json`:
/// enough to tell whether it is healthy, to print its `kubectl get pods` row and a
/// `kubectl describe pod`-like text, and to plan which logs to fetch.
struct TriagePod: Decodable, Sendable {
    struct Metadata: Decodable, Sendable {
        var name: String
        var namespace: String?
        var creationTimestamp: String?
        var deletionTimestamp: String?
        var labels: [String: String]?
    }

    struct Spec: Decodable, Sendable {
        struct Container: Decodable, Sendable {
            var name: String
            var image: String?
            var restartPolicy: String?
        }

        struct Volume: Decodable, Sendable {
            struct Claim: Decodable, Sendable { var claimName: String }
            var name: String
            var persistentVolumeClaim: Claim?
        }

        var containers: [Container] = []
        var initContainers: [Container]?
        var nodeName: String?
        var volumes: [Volume]?
    }

    struct ContainerState: Decodable, Sendable {
        struct Waiting: Decodable, Sendable {
            var reason: String?
            var message: String?
        }

        struct Running: Decodable, Sendable {
            var startedAt: String?
        }

        struct Terminated: Decodable, Sendable {
            var reason: String?
            var message: String?
            var exitCode: Int?
            var signal: Int?
            var startedAt: String?
            var finishedAt: String?
        }

        var waiting: Waiting?
        var running: Running?
        var terminated: Terminated?
    }

    struct ContainerStatus: Decodable, Sendable {
        var name: String
        var ready: Bool?
        var started: Bool?
        var restartCount: Int?
        var image: String?
        var state: ContainerState?
        var lastState: ContainerState?
    }

    struct Condition: Decodable, Sendable {
        var type: String
        var status: String
        var reason: String?
        var message: String?
    }

    struct Status: Decodable, Sendable {
        var phase: String?
        var reason: String?
        var message: String?
        var hostIP: String?
        var podIP: String?
        var startTime: String?
        var conditions: [Condition]?
        var containerStatuses: [ContainerStatus]?
        var initContainerStatuses: [ContainerStatus]?
    }

    var metadata: Metadata
    var spec: Spec?
    var status: Status?

    var name: String { metadata.name }
    var namespace: String { metadata.namespace ?? "default" }

    /// Neither Ready nor Completed: what `kubectl get pod -A | grep -wv Completed` leaves, less the
    /// pods that are Ready.
    var isUnhealthy: Bool {
        if status?.phase == "Succeeded" { return false }
        if let ready = status?.conditions?.first(where: { $0.type == "Ready" }) { return ready.status != "True" }
        // No Ready condition (a status written by something other than the kubelet): running
        // with every container ready is healthy.
        let statuses = status?.containerStatuses ?? []
        return !(status?.phase == "Running" && !statuses.isEmpty && statuses.allSatisfy { $0.ready == true })
    }

    /// The claims of its PersistentVolumeClaim volumes, in the order of the spec.
    var claimNames: [String] { (spec?.volumes ?? []).compactMap { $0.persistentVolumeClaim?.claimName } }
}

struct TriagePodList: Decodable, Sendable {
    var items: [TriagePod]
}

/// The `kubectl get pods` row of a pod, computed the way kubectl's printer does
/// (pkg/printers/internalversion, printPod): READY counts ready running containers; STATUS is the
/// phase, overridden by the pod's reason, by the first init container that has not finished
/// (`Init:REASON`, `Init:ExitCode:N`, `Init:N/M`), then by the last container that is waiting or
/// terminated; RESTARTS adds up the restart counts, with the time of the last restart.
extension TriagePod {
    struct Row: Sendable, Encodable {
        var namespace: String
        var name: String
        var ready: String
        var status: String
        var restarts: String
        var age: String
    }

    func row(now: Double) -> Row {
        let st = status
        var restarts = 0
        var lastRestart: Double?
        func noteRestart(_ c: ContainerStatus) {
            if let f = c.lastState?.terminated?.finishedAt.flatMap(Self.time) { lastRestart = max(lastRestart ?? f, f) }
        }
        let total = spec?.containers.count ?? (st?.containerStatuses?.count ?? 0)
        var ready = 0
        var reason = st?.phase ?? "Unknown"
        if let r = st?.reason, !r.isEmpty { reason = r }
        if st?.conditions?.contains(where: { $0.type == "PodScheduled" && $0.reason == "SchedulingGated" }) == true {
            reason = "SchedulingGated"
        }
        var initializing = false
        let inits = st?.initContainerStatuses ?? []
        let initCount = spec?.initContainers?.count ?? inits.count
        for (i, c) in inits.enumerated() {
            restarts += c.restartCount ?? 0
            noteRestart(c)
            let sidecar = spec?.initContainers?.first { $0.name == c.name }?.restartPolicy == "Always"
            if let t = c.state?.terminated, (t.exitCode ?? 0) == 0 { continue }
            if sidecar && c.started == true { continue }
            if let t = c.state?.terminated {
                if let r = t.reason, !r.isEmpty {
                    reason = "Init:" + r
                } else if let s = t.signal, s != 0 {
                    reason = "Init:Signal:\(s)"
                } else {
                    reason = "Init:ExitCode:\(t.exitCode ?? 0)"
                }
            } else if let w = c.state?.waiting, let r = w.reason, !r.isEmpty, r != "PodInitializing" {
                reason = "Init:" + r
            } else {
                reason = "Init:\(i)/\(initCount)"
            }
            initializing = true
            break
        }
        let initialized = st?.conditions?.contains { $0.type == "Initialized" && $0.status == "True" } ?? false
        if !initializing || initialized {
            restarts = 0
            for c in inits where spec?.initContainers?.first(where: { $0.name == c.name })?.restartPolicy == "Always" {
                restarts += c.restartCount ?? 0
            }
            var hasRunning = false
            for c in (st?.containerStatuses ?? []).reversed() {
                restarts += c.restartCount ?? 0
                noteRestart(c)
                if let w = c.state?.waiting, let r = w.reason, !r.isEmpty {
                    reason = r
                } else if let t = c.state?.terminated {
                    if let r = t.reason, !r.isEmpty {
                        reason = r
                    } else if let s = t.signal, s != 0 {
                        reason = "Signal:\(s)"
                    } else {
                        reason = "ExitCode:\(t.exitCode ?? 0)"
                    }
                } else if c.ready == true, c.state?.running != nil {
                    hasRunning = true
                    ready += 1
                }
            }
            if reason == "Completed" && hasRunning {
                reason = st?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } == true ? "Running" : "NotReady"
            }
        }
        if metadata.deletionTimestamp != nil {
            if st?.reason == "NodeLost" {
                reason = "Unknown"
            } else if st?.phase != "Succeeded" && st?.phase != "Failed" {
                reason = "Terminating"
            }
        }
        var restartText = "\(restarts)"
        if restarts != 0, let last = lastRestart { restartText += " (\(Self.humanDuration(now - last)) ago)" }
        let age = metadata.creationTimestamp.flatMap(Self.time).map { Self.humanDuration(now - $0) } ?? "<unknown>"
        return Row(namespace: namespace, name: name, ready: "\(ready)/\(total)", status: reason, restarts: restartText, age: age)
    }

    static func time(_ s: String) -> Double? { KubectlPrefix.rfc3339(s) }

    /// kubectl's `duration.HumanDuration` (k8s.io/apimachinery/pkg/util/duration): 90s, 5m30s,
    /// 25m, 3h12m, 20h, 2d5h, 40d, 2y30d.
    static func humanDuration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        if s < -1 { return "<invalid>" }
        if s < 0 { return "0s" }
        if s < 120 { return "\(s)s" }
        let minutes = s / 60
        if minutes < 10 { return s % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(s % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = s / 3600
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }
}

/// One event of `kubectl get events -o json`.
struct TriageEvent: Decodable, Sendable {
    struct Reference: Decodable, Sendable {
        var kind: String?
        var name: String?
        var namespace: String?
        var fieldPath: String?
    }

    struct Metadata: Decodable, Sendable {
        var name: String?
        var namespace: String?
        var creationTimestamp: String?
    }

    struct Source: Decodable, Sendable {
        var component: String?
        var host: String?
    }

    var metadata: Metadata?
    var involvedObject: Reference
    var reason: String?
    var message: String?
    var type: String?
    var count: Int?
    var firstTimestamp: String?
    var lastTimestamp: String?
    var eventTime: String?
    var source: Source?
    var reportingComponent: String?

    var namespace: String { involvedObject.namespace ?? metadata?.namespace ?? "default" }
    var isWarning: Bool { type == "Warning" }

    /// When it was last seen (lastTimestamp, else eventTime, else firstTimestamp, else created).
    var lastSeen: Double? {
        [lastTimestamp, eventTime, firstTimestamp, metadata?.creationTimestamp].lazy.compactMap { $0.flatMap(TriagePod.time) }.first
    }

    var from: String {
        if let c = source?.component, !c.isEmpty { return c + (source?.host.map { ", " + $0 } ?? "") }
        return reportingComponent ?? ""
    }

    /// Its age column as `kubectl describe` prints it: `3m`, or `45s (x3 over 2m)`.
    func age(now: Double) -> String {
        let last = lastSeen.map { TriagePod.humanDuration(now - $0) } ?? "<unknown>"
        if let n = count, n > 1, let first = (firstTimestamp ?? eventTime).flatMap(TriagePod.time) {
            return "\(last) (x\(n) over \(TriagePod.humanDuration(now - first)))"
        }
        return last
    }

    /// The line `kubectl describe` prints in its Events table.
    func describeLine(now: Double) -> String {
        "  \(type ?? "")  \(reason ?? "")  \(age(now: now))  \(from)  \(oneLine(message ?? ""))"
    }

    /// The line `kubectl get events -n NS` prints: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
    func getLine(now: Double) -> String {
        let object = "\((involvedObject.kind ?? "").lowercased())/\(involvedObject.name ?? "")"
        return "\(lastSeen.map { TriagePod.humanDuration(now - $0) } ?? "<unknown>")  \(type ?? "")  \(reason ?? "")  \(object)  \(oneLine(message ?? ""))"
    }
}

struct TriageEventList: Decodable, Sendable {
    var items: [TriageEvent]
}

/// A message on one line, as the printers show it.
func oneLine(_ s: String) -> String {
    s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
}
