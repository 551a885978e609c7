import Foundation
import LogSources

/// The few requests the Kubernetes source makes, and how: `kubectl-logs` runs one kubectl per
/// request; `kubectl-proxy` sends them over HTTP through one `kubectl proxy`. Both hand the
/// bodies over in pieces (not aligned on lines) and end with a `Kubectl.Output` whose standard
/// error is what kubectl would print, so failures are classified by the same `KubectlFailure`.
protocol KubernetesTransport: Sendable {
    /// The pods of a scope as a `List` JSON in `stdout`.
    func listPods(_ scope: KubernetesScope) async throws -> Kubectl.Output
    /// The current pods as ADDED, then their changes: `{"type","object"}` JSON objects.
    func watchPods(_ scope: KubernetesScope, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output
    /// The events as ADDED, then their changes.
    func watchEvents(namespace: String?, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output
    /// A container's log with timestamps: the previous one (to its end), or the current one
    /// followed from `since` (whole seconds, inclusive).
    func log(
        namespace: String, pod: String, container: String, previous: Bool, since: Int64?,
        onOutput: @escaping ([UInt8]) async throws -> Void
    ) async throws -> Kubectl.Output
    /// Runs what the transport needs beside the requests (the proxy) until cancelled.
    func run() async
    func shutdown() async
}

struct KubernetesScope: Sendable {
    var namespace: String?
    var selector: String?
    var node: String?
}

/// `transport: kubectl-logs`: one kubectl per request.
struct KubectlLogsTransport: KubernetesTransport {
    let kubectl: Kubectl

    func scopeArguments(_ scope: KubernetesScope) -> [String] {
        var a = scope.namespace.map { ["--namespace", $0] } ?? ["--all-namespaces"]
        if let s = scope.selector { a += ["--selector", s] }
        if let n = scope.node { a += ["--field-selector", "spec.nodeName=\(n)"] }
        return a
    }

    func listPods(_ scope: KubernetesScope) async throws -> Kubectl.Output {
        try await kubectl.run(["get", "pods", "--output", "json"] + scopeArguments(scope))
    }

    func watchPods(_ scope: KubernetesScope, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output {
        try await kubectl.stream(["get", "pods", "--watch", "--output-watch-events", "--output", "json"] + scopeArguments(scope), onOutput: onOutput)
    }

    func watchEvents(namespace: String?, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output {
        let scope = namespace.map { ["--namespace", $0] } ?? ["--all-namespaces"]
        return try await kubectl.stream(["get", "events", "--watch", "--output-watch-events", "--output", "json"] + scope, onOutput: onOutput)
    }

    func log(
        namespace: String, pod: String, container: String, previous: Bool, since: Int64?,
        onOutput: @escaping ([UInt8]) async throws -> Void
    ) async throws -> Kubectl.Output {
        let args = ["logs", "--namespace", namespace, pod, "--container", container, "--timestamps"]
        if previous {
            return try await kubectl.stream(args + ["--previous"], requestTimeout: kubectl.requestTimeout, timeout: kubectl.requestTimeout * 4, onOutput: onOutput)
        }
        return try await kubectl.stream(args + ["--follow"] + (since.map { ["--since-time=\(KubeTime.format($0))"] } ?? []), onOutput: onOutput)
    }

    func run() async {}
    func shutdown() async {}
}
