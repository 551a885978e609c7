import Foundation
import Yams

extension DaemonConfiguration {
    /// `sources.kubernetes`: pod logs, events and pod status through the operator's kubectl.
    public struct Kubernetes: Sendable, Equatable {
        public enum Transport: String, Sendable { case kubectlLogs = "kubectl-logs", kubectlProxy = "kubectl-proxy" }
        /// nil: /etc/casewatch/kubeconfig when it exists, else kubectl's own default.
        public var kubeconfig: String?
        public var context: String?
        /// The binary (a path, or a name in PATH).
        public var kubectl = "kubectl"
        public var transport: Transport = .kubectlLogs
        /// Empty: every namespace.
        public var namespaces: [String] = []
        /// A label selector (`app=web,tier!=db`).
        public var selector: String?
        /// Only pods on this node (`spec.nodeName`), for one instance per node.
        public var node: String?
        public var events = true
        public var status = true
        public var maxStreams = 100
        /// How far back a stream starts the first time it is seen, seconds.
        public var since: Double = 3600

        public init() {}
    }
}

extension ConfigReader {
    func readKubernetes(_ node: Node) -> DaemonConfiguration.Kubernetes {
        var k = DaemonConfiguration.Kubernetes()
        let keys = ["kubeconfig", "context", "kubectl", "transport", "namespaces", "selector", "node", "events", "status", "max_streams", "since"]
        for (key, _, value) in mapping(node, "sources.kubernetes", allowed: keys) ?? [] {
            let full = "sources.kubernetes.\(key)"
            switch key {
            case "kubeconfig":
                if let s = string(value, full) {
                    if s.hasPrefix("/") { k.kubeconfig = s } else { fail(value, full, "expected an absolute path, got '\(s)'") }
                }
            case "context": k.context = string(value, full).flatMap { $0.isEmpty ? nil : $0 }
            case "kubectl":
                if let s = string(value, full) {
                    if s.isEmpty { fail(value, full, "expected a path or a command name") } else { k.kubectl = s }
                }
            case "transport":
                switch string(value, full) {
                case "kubectl-logs": k.transport = .kubectlLogs
                case "kubectl-proxy": k.transport = .kubectlProxy
                case let raw?: fail(value, full, "expected kubectl-logs or kubectl-proxy, got '\(raw)'")
                case nil: break
                }
            case "namespaces": k.namespaces = strings(value, full) ?? []
            case "selector": k.selector = string(value, full).flatMap { $0.isEmpty ? nil : $0 }
            case "node": k.node = string(value, full).flatMap { $0.isEmpty ? nil : $0 }
            case "events": if let b = bool(value, full) { k.events = b }
            case "status": if let b = bool(value, full) { k.status = b }
            case "max_streams": if let n = integer(value, full, atLeast: 1) { k.maxStreams = n }
            default: if let d = duration(value, full) { k.since = d }
            }
        }
        return k
    }
}
