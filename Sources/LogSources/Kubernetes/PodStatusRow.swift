import Foundation

/// A pod's status as a `kubectl get pods -A` row (NAMESPACE NAME READY STATUS RESTARTS AGE), e.g.
/// `blueking   bk-es-master-0   0/1   CrashLoopBackOff   5 (2m ago)   10m`: the layout the
/// catalog's status-row symptoms match, so a crash loop is seen even when the pod prints nothing.
/// The STATUS column follows kubectl's printer: a waiting or terminated container's reason
/// (`Init:` for init containers), else the pod's phase.
public struct PodStatusRow: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var node: String?
    public var ready: Int
    public var total: Int
    public var status: String
    /// The container the status comes from (nil: the pod's phase).
    public var container: String?
    public var restarts: Int
    /// Seconds since the epoch of the last container termination (for "(2m ago)").
    public var lastRestart: Double?
    public var created: Double?

    /// Reasons that say something is wrong: a row with one of these is a record.
    public static let notable: Set<String> = [
        "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName", "OOMKilled",
        "Error", "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ContainerCannotRun",
        "ContainerStatusUnknown", "DeadlineExceeded", "Evicted", "PreStartHookError", "PostStartHookError",
    ]

    /// The row of a Pod object (the JSON kubectl prints), or nil when it is not one.
    public init?(pod: [String: Any]) {
        guard let metadata = pod["metadata"] as? [String: Any], let name = metadata["name"] as? String else { return nil }
        self.namespace = metadata["namespace"] as? String ?? "default"
        self.name = name
        let spec = pod["spec"] as? [String: Any] ?? [:]
        let status = pod["status"] as? [String: Any] ?? [:]
        node = spec["nodeName"] as? String
        created = (metadata["creationTimestamp"] as? String).flatMap(KubeTime.nanos).map { Double($0) / 1e9 }
        let containers = status["containerStatuses"] as? [[String: Any]] ?? []
        let inits = status["initContainerStatuses"] as? [[String: Any]] ?? []
        total = (spec["containers"] as? [Any])?.count ?? containers.count
        ready = containers.filter { $0["ready"] as? Bool == true }.count
        restarts = 0
        lastRestart = nil
        self.status = status["reason"] as? String ?? status["phase"] as? String ?? "Unknown"
        container = nil
        for c in containers + inits {
            restarts += c["restartCount"] as? Int ?? 0
            if let finished = ((c["lastState"] as? [String: Any])?["terminated"] as? [String: Any])?["finishedAt"] as? String,
                let t = KubeTime.nanos(finished).map({ Double($0) / 1e9 })
            {
                lastRestart = max(lastRestart ?? 0, t)
            }
        }
        // kubectl's order: an init container not done yet wins, then the last container with a
        // waiting or terminated reason.
        for c in inits {
            if let (reason, _) = Self.reason(c), reason != "Completed" {
                self.status = "Init:\(reason)"
                container = c["name"] as? String
                return
            }
        }
        for c in containers {
            if let (reason, _) = Self.reason(c) {
                self.status = reason
                container = c["name"] as? String
            }
        }
    }

    static func reason(_ c: [String: Any]) -> (String, Bool)? {
        let state = c["state"] as? [String: Any] ?? [:]
        if let w = state["waiting"] as? [String: Any], let r = w["reason"] as? String, !r.isEmpty { return (r, true) }
        if let t = state["terminated"] as? [String: Any] {
            if let r = t["reason"] as? String, !r.isEmpty { return (r, false) }
            if let s = t["signal"] as? Int, s != 0 { return ("Signal:\(s)", false) }
            if let e = t["exitCode"] as? Int { return ("ExitCode:\(e)", false) }
        }
        return nil
    }

    /// Whether the row says something is wrong.
    public var isNotable: Bool {
        let bare = status.hasPrefix("Init:") ? String(status.dropFirst(5)) : status
        return Self.notable.contains(bare) || bare.hasPrefix("Signal:") || (bare.hasPrefix("ExitCode:") && bare != "ExitCode:0")
    }

    /// The row text, at `now` (seconds since the epoch).
    public func line(now: Double) -> String {
        var r = "\(restarts)"
        if let last = lastRestart, restarts > 0 { r += " (\(KubeTime.age(now - last)) ago)" }
        let age = created.map { KubeTime.age(now - $0) } ?? "<unknown>"
        return "\(namespace)   \(name)   \(ready)/\(total)   \(status)   \(r)   \(age)"
    }
}
