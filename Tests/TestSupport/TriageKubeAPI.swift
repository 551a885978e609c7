import Foundation

/// A loopback Kubernetes API for the `casewatch triage` tests, served on 127.0.0.1 at a port the
/// kernel picks, for the real kubectl to talk to over plain HTTP: discovery (/api, /apis,
/// /api/v1), pods (list across and within namespaces, get), pod logs (current and `previous`,
/// with `timestamps`, `sinceSeconds` and `limitBytes` as the kubelet applies them) and events,
/// and the errors a real API server gives (403 Forbidden from RBAC, a 500 when it cannot dial the
/// node's kubelet on port 10250).
///
/// Triage's own minimal server, written while the Kubernetes source's test API was not there yet;
/// to be merged with it. No real API server can run here (no etcd, no kube-apiserver binary),
/// hence a server of the tests' own; kubectl itself is the real one.
public final class TriageKubeAPI: @unchecked Sendable {
    /// A log as the kubelet has it: lines with the time each was written.
    public struct Log: Sendable {
        public var lines: [(time: Double, text: String)]
        public init(_ lines: [(time: Double, text: String)]) { self.lines = lines }
    }

    /// What a log request gets instead of the log.
    public enum Failure: Sendable {
        /// RBAC denies `get pods/log`: 403 Forbidden, as the API server words it.
        case forbidden(user: String)
        /// The API server cannot dial the node's kubelet: 500 with the dial error.
        case kubeletUnreachable(nodeIP: String)
    }

    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var pods: [[String: Any]] = []
    private var events: [[String: Any]] = []
    private var logs: [String: Log] = [:]
    private var logFailures: [String: Failure] = [:]
    private var namespaceLogFailures: [String: Failure] = [:]
    private var requestCount = 0
    private var connections: Set<Int32> = []
    private var stopped = false

    /// Requests served so far.
    public var requests: Int { lock.withLock { requestCount } }

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// Stops serving: closes the listening socket and every open connection.
    public func stop() {
        let open: Set<Int32>? = lock.withLock {
            if stopped { return nil }
            stopped = true
            return connections
        }
        // Once only: a second close could hit a descriptor number reused by another server.
        guard let open else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for c in open { shutdown(c, Int32(SHUT_RDWR)) }
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// A kubeconfig for this server, written to `path`.
    public func writeKubeconfig(to path: String, context: String = "triage-test") throws {
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: loopback
              cluster:
                server: \(url)
            users:
            - name: tester
              user:
                token: test-token
            contexts:
            - name: \(context)
              context:
                cluster: loopback
                user: tester
            current-context: \(context)

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: - The cluster's content

    public func addPod(_ pod: [String: Any]) { lock.withLock { pods.append(pod) } }
    public func addEvent(_ event: [String: Any]) { lock.withLock { events.append(event) } }

    /// The log of a container (`previous`: of its last terminated run).
    public func setLog(namespace: String, pod: String, container: String, previous: Bool = false, _ log: Log) {
        lock.withLock { logs["\(namespace)/\(pod)/\(container)\(previous ? "/previous" : "")"] = log }
    }

    /// Every log request of the pod fails this way.
    public func failLogs(namespace: String, pod: String, _ failure: Failure) {
        lock.withLock { logFailures["\(namespace)/\(pod)"] = failure }
    }

    /// Every log request in the namespace fails this way (RBAC on pods/log for a namespace).
    public func failLogs(namespace: String, _ failure: Failure) {
        lock.withLock { namespaceLogFailures[namespace] = failure }
    }

    // MARK: - HTTP

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let ok: Bool = lock.withLock {
                if stopped { return false }
                connections.insert(fd)
                return true
            }
            guard ok else {
                close(fd)
                return
            }
            Thread.detachNewThread { [self] in
                serve(fd)
                lock.withLock { _ = connections.remove(fd) }
                close(fd)
            }
        }
    }

    /// Requests on one connection (kubectl keeps it open) until the client closes it.
    private func serve(_ fd: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            // The head of a request: up to the blank line (GET requests have no body).
            let end: Int
            if let e = headEnd(buffer) {
                end = e
            } else {
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer += chunk[0..<n]
                continue
            }
            let head = String(decoding: buffer[0..<end], as: UTF8.self)
            buffer.removeFirst(end + 4)
            let lines = head.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2 else { return }
            var length = 0
            for l in lines.dropFirst() where l.lowercased().hasPrefix("content-length:") {
                length = Int(l.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            if length > 0 {
                while buffer.count < length {
                    let n = read(fd, &chunk, chunk.count)
                    if n <= 0 { return }
                    buffer += chunk[0..<n]
                }
                buffer.removeFirst(length)
            }
            lock.withLock { requestCount += 1 }
            let (status, type, body) = respond(method: String(parts[0]), target: String(parts[1]))
            let reason = [200: "OK", 403: "Forbidden", 404: "Not Found", 400: "Bad Request", 500: "Internal Server Error"][status] ?? "Error"
            var response = Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
            response += body
            var sent = 0
            while sent < response.count {
                let n = response[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    private func json(_ object: Any, status: Int = 200) -> (Int, String, [UInt8]) {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return (status, "application/json", Array(data))
    }

    private func statusObject(_ code: Int, reason: String?, message: String, details: [String: Any]? = nil) -> (Int, String, [UInt8]) {
        var s: [String: Any] = ["kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure", "message": message, "code": code]
        if let reason { s["reason"] = reason }
        if let details { s["details"] = details }
        return json(s, status: code)
    }

    private func respond(method: String, target: String) -> (Int, String, [UInt8]) {
        let comps = URLComponents(string: target)
        let path = comps?.path ?? target
        var query: [String: String] = [:]
        for item in comps?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let segments = path.split(separator: "/").map(String.init)
        guard method == "GET" else { return statusObject(405, reason: "MethodNotAllowed", message: "the server does not allow this method") }
        switch segments {
        case ["version"]:
            return json(["major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"])
        case ["api"]:
            return json(["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:\(port)"]]])
        case ["apis"]:
            return json(["kind": "APIGroupList", "apiVersion": "v1", "groups": [Any]()])
        case ["api", "v1"]:
            func r(_ name: String, _ singular: String, _ kind: String, _ namespaced: Bool, _ verbs: [String], _ short: [String]) -> [String: Any] {
                ["name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short]
            }
            return json([
                "kind": "APIResourceList", "groupVersion": "v1",
                "resources": [
                    r("pods", "pod", "Pod", true, ["get", "list"], ["po"]),
                    r("pods/log", "", "Pod", true, ["get"], []),
                    r("events", "event", "Event", true, ["get", "list"], ["ev"]),
                    r("namespaces", "namespace", "Namespace", false, ["get", "list"], ["ns"]),
                ],
            ])
        case ["api", "v1", "pods"]:
            return list("PodList", lock.withLock { pods })
        case ["api", "v1", "events"]:
            return list("EventList", filterEvents(lock.withLock { events }, query))
        default:
            break
        }
        guard segments.count >= 5, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces" else {
            return statusObject(404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        let ns = segments[3]
        switch Array(segments[4...]) {
        case ["pods"]:
            return list("PodList", lock.withLock { pods }.filter { namespace(of: $0) == ns })
        case ["events"]:
            return list("EventList", filterEvents(lock.withLock { events }.filter { namespace(of: $0) == ns }, query))
        case let rest where rest.count == 2 && rest[0] == "pods":
            guard let pod = findPod(ns, rest[1]) else {
                return statusObject(404, reason: "NotFound", message: "pods \"\(rest[1])\" not found", details: ["name": rest[1], "kind": "pods"])
            }
            var typed = pod
            typed["kind"] = "Pod"
            typed["apiVersion"] = "v1"
            return json(typed)
        case let rest where rest.count == 3 && rest[0] == "pods" && rest[2] == "log":
            return log(ns, rest[1], query)
        default:
            return statusObject(404, reason: "NotFound", message: "the server could not find the requested resource")
        }
    }

    private func namespace(of object: [String: Any]) -> String? {
        ((object["metadata"] as? [String: Any])?["namespace"] as? String)
    }

    private func findPod(_ ns: String, _ name: String) -> [String: Any]? {
        lock.withLock { pods }.first {
            namespace(of: $0) == ns && (($0["metadata"] as? [String: Any])?["name"] as? String) == name
        }
    }

    private func list(_ kind: String, _ items: [[String: Any]]) -> (Int, String, [UInt8]) {
        let itemKind = String(kind.dropLast("List".count))
        let typed = items.map { i -> [String: Any] in
            var i = i
            i["kind"] = itemKind
            i["apiVersion"] = "v1"
            return i
        }
        return json(["kind": kind, "apiVersion": "v1", "metadata": ["resourceVersion": "1"], "items": typed])
    }

    /// `fieldSelector` terms the tests use: `type=`, `involvedObject.name=`, `involvedObject.kind=`.
    private func filterEvents(_ events: [[String: Any]], _ query: [String: String]) -> [[String: Any]] {
        guard let selector = query["fieldSelector"], !selector.isEmpty else { return events }
        var out = events
        for term in selector.split(separator: ",") {
            let kv = term.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            out = out.filter { e in
                switch kv[0] {
                case "type": return e["type"] as? String == kv[1]
                case "involvedObject.name": return (e["involvedObject"] as? [String: Any])?["name"] as? String == kv[1]
                case "involvedObject.kind": return (e["involvedObject"] as? [String: Any])?["kind"] as? String == kv[1]
                default: return true
                }
            }
        }
        return out
    }

    private func log(_ ns: String, _ podName: String, _ query: [String: String]) -> (Int, String, [UInt8]) {
        guard let pod = findPod(ns, podName) else {
            return statusObject(404, reason: "NotFound", message: "pods \"\(podName)\" not found", details: ["name": podName, "kind": "pods"])
        }
        let container = query["container"] ?? ""
        let previous = query["previous"] == "true"
        let failure = lock.withLock { logFailures["\(ns)/\(podName)"] ?? namespaceLogFailures[ns] }
        switch failure {
        case .forbidden(let user):
            return statusObject(
                403, reason: "Forbidden",
                message: "pods \"\(podName)\" is forbidden: User \"\(user)\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"\(ns)\"",
                details: ["name": podName, "kind": "pods"])
        case .kubeletUnreachable(let ip):
            var url = "https://\(ip):10250/containerLogs/\(ns)/\(podName)/\(container)"
            var params: [String] = []
            if previous { params.append("previous=true") }
            if let s = query["sinceSeconds"] { params.append("sinceSeconds=\(s)") }
            if query["timestamps"] == "true" { params.append("timestamps=true") }
            if !params.isEmpty { url += "?" + params.joined(separator: "&") }
            return statusObject(500, reason: nil, message: "Get \"\(url)\": dial tcp \(ip):10250: connect: connection refused")
        case nil:
            break
        }
        guard let entry = lock.withLock({ logs["\(ns)/\(podName)/\(container)\(previous ? "/previous" : "")"] }) else {
            let known = (((pod["spec"] as? [String: Any])?["containers"] as? [[String: Any]]) ?? []).contains { $0["name"] as? String == container }
            if previous {
                return statusObject(400, reason: "BadRequest", message: "previous terminated container \"\(container)\" in pod \"\(podName)\" not found")
            }
            if !known {
                return statusObject(400, reason: "BadRequest", message: "container \(container) is not valid for pod \(podName)")
            }
            return (200, "text/plain", [])
        }
        let since = query["sinceSeconds"].flatMap(Double.init).map { Date().timeIntervalSince1970 - $0 }
        var body = ""
        for line in entry.lines where since.map({ line.time >= $0 }) ?? true {
            if query["timestamps"] == "true" { body += Self.rfc3339Nano(line.time) + " " }
            body += line.text + "\n"
        }
        var bytes = Array(body.utf8)
        if let cap = query["limitBytes"].flatMap(Int.init), bytes.count > cap { bytes = Array(bytes[0..<cap]) }
        return (200, "text/plain", bytes)
    }

    /// The kubelet's timestamp form: RFC 3339 with nanoseconds, UTC.
    public static func rfc3339Nano(_ t: Double) -> String {
        var seconds = time_t(t.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let nanos = Int(((t - t.rounded(.down)) * 1e9).rounded(.down))
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), nanos)
    }

    /// RFC 3339 to the second, as object timestamps are.
    public static func rfc3339(_ t: Double) -> String {
        var seconds = time_t(t.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
