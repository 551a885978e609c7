import AsyncHTTPClient
import Foundation
import LogSources
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `transport: kubectl-proxy`: ONE `kubectl proxy` on a private unix socket (the operator's
/// kubeconfig, context and cache directory, so authentication, exec credential plugins and RBAC
/// behave exactly as kubectl's), and every list, watch and log stream as HTTP through it with one
/// async-http-client. The proxy is restarted with backoff when it dies; the streams through it
/// then end and resume as after any stream end.
final class KubectlProxyTransport: KubernetesTransport, @unchecked Sendable {
    let kubectl: Kubectl
    let socketPath: String
    let logger: Logger
    let firstBackoff: Double
    let maxBackoff: Double
    let client: HTTPClient
    private let group: MultiThreadedEventLoopGroup
    /// Batches the loop's wake-ups for the followed logs (`ReadPacer`).
    let pacer: ReadPacer
    private let lock = NSLock()
    private var ready = false
    private var lastError = ""
    /// The running proxy's process id (0 before the first start).
    private(set) var pid: Int32 = 0

    init(kubectl: Kubectl, socketPath: String, maxStreams: Int, firstBackoff: Double, maxBackoff: Double, readInterval: Double, logger: Logger) {
        pacer = ReadPacer(interval: readInterval)
        self.kubectl = kubectl
        self.socketPath = socketPath
        self.logger = logger
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        var configuration = HTTPClient.Configuration()
        // Every followed stream holds one connection to the proxy: room for all of them, the
        // watches and the one-shot requests.
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maxStreams + 16)
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        // One event loop of its own: every connection and every request's callbacks on the same
        // thread. On a group of several loops a request's callbacks may run on another loop than
        // its connection's, and each body piece then crosses threads twice (measured: a third of
        // the daemon's CPU at 200 streams).
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        client = HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    // MARK: - The proxy

    /// Starts `kubectl proxy` and starts it again whenever it ends, until cancelled.
    func run() async {
        var failures = 0
        while !Task.isCancelled {
            try? FileManager.default.createDirectory(atPath: (socketPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: socketPath)
            final class Seen: @unchecked Sendable { var text = ""; var serving = false }
            let seen = Seen()
            let started = Date()
            let args = ["proxy", "--unix-socket=\(socketPath)", "--api-prefix=/", "--keepalive=30s"]
            do {
                let output = try await kubectl.stream(args, onStart: { pid in
                    self.lock.withLock { self.pid = pid }
                }) { chunk in
                    // "Starting to serve on <socket>": the socket listens.
                    guard !seen.serving else { return }
                    seen.text += String(decoding: chunk, as: UTF8.self)
                    if seen.text.contains("Starting to serve on") {
                        seen.serving = true
                        self.lock.withLock {
                            self.ready = true
                            self.lastError = ""
                        }
                    }
                }
                let problems = KubectlFailure.parse(output.stderrText)
                lock.withLock {
                    ready = false
                    lastError = problems.first?.line ?? "kubectl proxy exited with status \(output.status)"
                }
            } catch {
                lock.withLock {
                    ready = false
                    lastError = "kubectl cannot be run: \(error)"
                }
            }
            if Task.isCancelled { break }
            failures = Date().timeIntervalSince(started) > maxBackoff ? 1 : failures + 1
            let message = lock.withLock { lastError }
            logger.warning("kubectl proxy ended, starting it again", metadata: ["source": "kubernetes", "error": "\(message)"])
            let delay = min(maxBackoff, firstBackoff * pow(2, Double(max(0, failures - 1)))) * Double.random(in: 0.5...1.0)
            try? await Task.sleep(for: .milliseconds(Int64(max(0.01, delay) * 1000)))
        }
        try? FileManager.default.removeItem(atPath: socketPath)
    }

    func shutdown() async {
        try? await client.shutdown()
        try? await group.shutdownGracefully()
    }

    /// Waits (up to the request timeout) for the proxy to listen; nil when it does, else why not
    /// (as kubectl printed it).
    private func awaitProxy() async -> String? {
        let deadline = Date().addingTimeInterval(kubectl.requestTimeout)
        while !Task.isCancelled {
            let (isReady, error) = lock.withLock { (ready, lastError) }
            if isReady { return nil }
            if Date() >= deadline { return error.isEmpty ? "kubectl proxy did not start" : error }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return "cancelled"
    }

    // MARK: - Requests

    static func query(_ items: [(String, String?)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let parts = items.compactMap { k, v in v.map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    static func segment(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func podsPath(_ scope: KubernetesScope, watch: Bool) -> String {
        let base = scope.namespace.map { "/api/v1/namespaces/\(Self.segment($0))/pods" } ?? "/api/v1/pods"
        return base + Self.query([
            ("labelSelector", scope.selector), ("fieldSelector", scope.node.map { "spec.nodeName=\($0)" }),
            ("watch", watch ? "1" : nil),
        ])
    }

    func listPods(_ scope: KubernetesScope) async throws -> Kubectl.Output {
        final class Body: @unchecked Sendable { var bytes: [UInt8] = [] }
        let body = Body()
        let out = await request(podsPath(scope, watch: false), timeout: kubectl.requestTimeout, .async { body.bytes.append(contentsOf: $0) })
        return Kubectl.Output(status: out.status, body: out.succeeded ? body.bytes : [], stderr: out.stderrText, timedOut: out.timedOut)
    }

    func watchPods(_ scope: KubernetesScope, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output {
        await request(podsPath(scope, watch: true), timeout: nil, .async(onOutput))
    }

    func watchEvents(namespace: String?, onOutput: @escaping ([UInt8]) async throws -> Void) async throws -> Kubectl.Output {
        let base = namespace.map { "/api/v1/namespaces/\(Self.segment($0))/events" } ?? "/api/v1/events"
        return await request(base + "?watch=1", timeout: nil, .async(onOutput))
    }

    func log(
        namespace: String, pod: String, container: String, previous: Bool, since: Int64?, output: LogOutput
    ) async throws -> Kubectl.Output {
        let path = "/api/v1/namespaces/\(Self.segment(namespace))/pods/\(Self.segment(pod))/log" + Self.query([
            ("container", container), ("follow", previous ? nil : "true"), ("previous", previous ? "true" : nil),
            ("sinceTime", previous ? nil : since.map(KubeTime.formatWholeSeconds)), ("timestamps", "true"),
        ])
        return await request(path, timeout: previous ? kubectl.requestTimeout * 4 : nil, .log(output, pacer))
    }

    /// One GET through the proxy. A 2xx body goes to `consumer` piece by piece; any other answer
    /// becomes kubectl's own words in `stderr`: "Error from server (Reason): message" from the
    /// API server's Status, "Unable to connect to the server: ..." when the proxy could not
    /// reach it. The proxy not listening (restarting) is waited for, not reported as the
    /// cluster's fault.
    private func request(_ path: String, timeout: Double?, _ consumer: BodyDelegate.Consumer) async -> Kubectl.Output {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            return Kubectl.Output(status: 1, stderr: "error: cannot address kubectl proxy at \(socketPath)")
        }
        var attempt = 0
        while true {
            attempt += 1
            if let problem = await awaitProxy() {
                return Kubectl.Output(status: 1, stderr: problem)
            }
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: "application/json, */*")
            // Over a unix socket async-http-client sends no Host; Go's server requires one.
            headers.add(name: "Host", value: "localhost")
            let delegate = BodyDelegate(consumer)
            let deadline: NIODeadline? = timeout.map { .now() + .milliseconds(Int64($0 * 1000)) }
            let result: Result<Kubectl.Output, Error>
            do {
                let request = try HTTPClient.Request(url: url, method: .GET, headers: headers)
                let task = client.execute(request: request, delegate: delegate, deadline: deadline)
                result = .success(
                    try await withTaskCancellationHandler {
                        try await task.futureResult.get()
                    } onCancel: {
                        task.cancel()
                    })
            } catch {
                result = .failure(error)
            }
            // A request cut mid-body ends before its consumer is done with the last piece: wait
            // for it, so a watch's last object is not applied after the list that follows.
            await delegate.settle()
            switch result {
            case .success(let output):
                return output
            case .failure(let error):
                if Task.isCancelled { return Kubectl.Output(status: 0, stderr: "") }
                if let e = error as? HTTPClientError, e == .deadlineExceeded { return Kubectl.Output(status: 1, stderr: "", timedOut: true) }
                if delegate.answered {
                    // The stream was cut (the proxy died, or the server closed it): an end like
                    // any other; the follow resumes from its last line.
                    return Kubectl.Output(status: 0, stderr: "")
                }
                // No answer from the proxy: it is restarting (not the cluster's fault). Wait for
                // it to listen again and ask again.
                if attempt < 5 {
                    lock.withLock { ready = false }
                    try? await Task.sleep(for: .milliseconds(50 * attempt))
                    if pidAlive() { lock.withLock { ready = true } }
                    continue
                }
                return Kubectl.Output(status: 1, stderr: "error: kubectl proxy does not answer: \(error)")
            }
        }
    }

    /// Takes a response on the connection's event loop. A followed log's pieces go straight to
    /// its `LogOutput` there (no hand-over to a task per piece: at 200 streams those hand-overs,
    /// thread wake-ups, were most of the daemon's CPU); the pieces of a watch or list go to an
    /// async consumer, one at a time (the next piece is not read before the last was taken).
    final class BodyDelegate: HTTPClientResponseDelegate, @unchecked Sendable {
        typealias Response = Kubectl.Output
        enum Consumer {
            case log(LogOutput, ReadPacer)
            case async(([UInt8]) async throws -> Void)
        }

        private let consumer: Consumer
        private let lock = NSLock()
        private var status = 0
        private var errorBody: [UInt8] = []
        /// The async consumer's piece being taken (one at a time).
        private var inFlight: Task<Void, Never>?

        init(_ consumer: Consumer) { self.consumer = consumer }

        /// Returns once the async consumer is done with the last piece handed to it.
        func settle() async {
            let last = lock.withLock { inFlight }
            await last?.value
        }

        /// The response's head came (a later failure is a cut stream, not a silent proxy).
        var answered: Bool { lock.withLock { status != 0 } }
        private var succeeded: Bool { (200..<300).contains(status) }

        func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
            lock.withLock { status = Int(head.status.code) }
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            let ok = lock.withLock { () -> Bool in
                if succeeded { return true }
                if errorBody.count < 64 * 1024 { errorBody.append(contentsOf: buffer.readableBytesView) }
                return false
            }
            guard ok else { return task.eventLoop.makeSucceededVoidFuture() }
            let bytes = Array(buffer.readableBytesView)
            switch consumer {
            case .log(let output, let pacer):
                // The loop is this transport's own: a nap there delays only these streams.
                if pacer.read() { task.eventLoop.execute { pacer.nap() } }
                if output.take(bytes) { return task.eventLoop.makeSucceededVoidFuture() }
                // The consumer is full: read no more until it has room.
                let promise = task.eventLoop.makePromise(of: Void.self)
                let room = output.room
                Task {
                    await room()
                    promise.succeed()
                }
                return promise.futureResult
            case .async(let body):
                let promise = task.eventLoop.makePromise(of: Void.self)
                let consume = Task {
                    do {
                        try await body(bytes)
                        promise.succeed()
                    } catch {
                        promise.fail(error)
                    }
                }
                lock.withLock { inFlight = consume }
                return promise.futureResult
            }
        }

        func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Kubectl.Output {
            lock.withLock {
                succeeded
                    ? Kubectl.Output(status: 0, stderr: "")
                    : Kubectl.Output(status: 1, stderr: KubectlProxyTransport.kubectlText(status: status, body: errorBody))
            }
        }
    }

    /// The proxy process is still there (a refused connection then is a passing hiccup).
    private func pidAlive() -> Bool {
        let pid = lock.withLock { self.pid }
        return pid > 0 && kill(pid, 0) == 0 && lock.withLock { self.pid } == pid && FileManager.default.fileExists(atPath: socketPath)
    }

    /// What kubectl prints for an answer that is not 2xx.
    static func kubectlText(status: Int, body: [UInt8]) -> String {
        if let o = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], o["kind"] as? String == "Status" {
            let message = o["message"] as? String ?? "an error on the server has prevented the request from succeeding"
            if let reason = o["reason"] as? String, !reason.isEmpty, reason != "Unknown" {
                return "Error from server (\(reason)): \(message)"
            }
            return "Error from server: \(message)"
        }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // The proxy's own answer: it could not reach the API server.
        if status >= 500 && (text.contains("dial tcp") || text.contains("connection refused") || text.contains("EOF") || text.contains("no such host")) {
            return "Unable to connect to the server: \(text)"
        }
        return "Error from server (\(HTTPResponseStatusText(status))): \(text.isEmpty ? "the server responded with status \(status)" : text)"
    }

    static func HTTPResponseStatusText(_ code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 503: "ServiceUnavailable"
        default: "InternalError"
        }
    }
}
