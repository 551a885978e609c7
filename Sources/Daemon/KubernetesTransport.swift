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
    func log(namespace: String, pod: String, container: String, previous: Bool, since: Int64?, output: LogOutput) async throws -> Kubectl.Output
    /// Runs what the transport needs beside the requests (the proxy) until cancelled.
    func run() async
    func shutdown() async
}

/// Where a followed log's bytes go. `take` runs on the thread that read them, one piece at a
/// time and in order (pieces are not aligned on lines), and returns false when the consumer is
/// full: the transport then reads no more until `room` returns.
struct LogOutput: Sendable {
    var take: @Sendable ([UInt8]) -> Bool
    var room: @Sendable () async -> Void
}

/// Paces a thread that reads many slow streams: after a wake-up that read something, the thread
/// naps `interval` before it looks again, so the streams that got data meanwhile are read in one
/// wake-up instead of one each. 200 pod streams at 5 lines/s each are 1,000 wake-ups a second
/// unpaced; each costs tens of microseconds of scheduling here (a VM), most of the daemon's CPU.
/// The price is at most `interval` more latency per line.
final class ReadPacer: @unchecked Sendable {
    let interval: Double
    private let lock = NSLock()
    private var napDue = false

    init(interval: Double) { self.interval = interval }

    /// After a read, on the reading thread: true when the caller should run `nap()` once its
    /// current batch of reads is done (the first read since the last nap).
    func read() -> Bool {
        guard interval > 0 else { return false }
        return lock.withLock {
            defer { napDue = true }
            return !napDue
        }
    }

    /// Sleeps `interval`, then lets the next read schedule a nap again.
    func nap() {
        Thread.sleep(forTimeInterval: interval)
        lock.withLock { napDue = false }
    }
}

struct KubernetesScope: Sendable {
    var namespace: String?
    var selector: String?
    var node: String?
}

/// `transport: kubectl-logs`: one kubectl per request.
struct KubectlLogsTransport: KubernetesTransport {
    let kubectl: Kubectl
    /// Reads every followed log's pipe.
    let pipes: PipeReader

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

    func log(namespace: String, pod: String, container: String, previous: Bool, since: Int64?, output: LogOutput) async throws -> Kubectl.Output {
        var args = ["logs", "--namespace", namespace, pod, "--container", container, "--timestamps"]
        args += previous ? ["--previous"] : ["--follow"] + (since.map { ["--since-time=\(KubeTime.format($0))"] } ?? [])
        // kubectl writes to a pipe that `pipes` reads on its own thread (not a task per pipe).
        let (readEnd, writeEnd) = try PipeReader.makePipe()
        let pipes = self.pipes
        // The read end is the reader's once `read` is called (it closes it at the pipe's end);
        // before that (kubectl could not be started) it is closed here.
        final class Handed: @unchecked Sendable { var value = false }
        let handed = Handed()
        do {
            return try await kubectl.stream(
                args, requestTimeout: previous ? kubectl.requestTimeout : nil, timeout: previous ? kubectl.requestTimeout * 4 : nil,
                standardOutput: writeEnd,
                untilRead: {
                    handed.value = true
                    await pipes.read(readEnd, into: output)
                })
        } catch {
            if !handed.value { close(readEnd) }
            throw error
        }
    }

    func run() async {}
    func shutdown() async { pipes.stop() }
}
