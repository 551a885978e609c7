import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback Kubernetes API server of the test suite's own, for the real `kubectl` binary: no
/// API server can be installed here (no container runtime, no etcd), so the tests serve the few
/// endpoints kubectl uses, over plain HTTP/1.1 on 127.0.0.1 (port chosen by the kernel).
///
/// It serves discovery (`/version`, `/api`, `/apis`, `/api/v1`, `apps/v1`,
/// `rbac.authorization.k8s.io/v1`), pods (list, watch with `resourceVersion`, `fieldSelector`
/// `spec.nodeName`/`metadata.name`/`metadata.namespace`, `labelSelector`; get), the pod log (follow, timestamps,
/// sinceTime, previous, container, tailLines, limitBytes), events (list and watch) and namespaces,
/// with `Status` objects for errors, as the real API server words them. It behaves as the real
/// one where resuming depends on it: `sinceTime` has whole-second precision and is inclusive;
/// log timestamps are RFC 3339 with nanoseconds.
///
/// Controls for scenarios: add, update and delete pods; append lines to a container's current or
/// previous log; restart a container (its log becomes the previous one and its follow streams
/// end); close open log streams mid-way; go down for a while (connections refused, open ones
/// closed) and come back on the same port; answer 403 for a resource; answer kubelet-unreachable
/// errors for the logs of a node.
public final class KubeAPIServer: @unchecked Sendable {
    public struct ContainerSpec: Sendable {
        public var name: String
        public var image: String
        public init(_ name: String, image: String = "registry.example/app:1") {
            self.name = name
            self.image = image
        }
    }

    /// A container's state as pod status shows it.
    public enum ContainerState: Sendable, Equatable {
        case running
        case waiting(reason: String, message: String)
        case terminated(reason: String, exitCode: Int)
    }

    struct LogLine {
        var nanos: Int64  // since the epoch
        var text: String
    }

    struct Container {
        var spec: ContainerSpec
        var isInit: Bool
        var state: ContainerState = .running
        var lastTerminated: (reason: String, exitCode: Int)?
        var restartCount = 0
        var ready = true
        var current: [LogLine] = []
        var previous: [LogLine]?
        /// Bumped on restart and on `closeLogStreams`: a follow stream of an older generation ends.
        var generation = 0
    }

    struct Pod {
        var namespace: String
        var name: String
        var uid: String
        var node: String
        var labels: [String: String]
        var phase: String
        var created: Date
        var resourceVersion = 0
        var containers: [Container]
    }

    struct WatchEvent {
        var resourceVersion: Int
        var type: String
        var object: [String: Any]
        var namespace: String
    }

    public private(set) var port: UInt16 = 0
    public var url: String { "http://127.0.0.1:\(port)" }
    /// The version `/version` reports.
    public var serverMinor = "33"

    private let cond = NSCondition()
    private var listenFD: Int32 = -1
    private var connections: Set<Int32> = []
    private var stopped = false
    private var down = false
    /// Bumped when the server goes down: streams of an earlier epoch end.
    private var epoch = 0
    private var resourceVersion = 1000
    private var pods: [String: Pod] = [:]  // "ns/name"
    private var namespaces: [String] = ["default", "kube-system"]
    private var podEvents: [WatchEvent] = []
    private var eventEvents: [WatchEvent] = []
    private var events: [String: [String: Any]] = [:]  // "ns/name" → object
    private var forbidden: Set<String> = []
    private var unreachableNodes: Set<String> = []
    /// Per pod ("ns/name"): fields of `metadata`, `spec`, `status` replaced as served (triage tests).
    private var podOverlays: [String: [String: [String: Any]]] = [:]
    private var lastLogNanos: Int64 = 0
    private var requestLog: [String] = []
    /// Requests served (path and query), oldest first.
    public var requests: [String] { cond.withLock { requestLog } }
    /// Open follow streams of pod logs.
    public var openLogStreams: Int { cond.withLock { openLogs } }
    private var openLogs = 0
    /// Largest number of log follow streams open at once.
    public var maxOpenLogStreams: Int { cond.withLock { maxOpenLogs } }
    private var maxOpenLogs = 0

    public init() throws {
        signal(SIGPIPE, SIG_IGN)
        try bind(port: 0)
        startAcceptLoop()
    }

    deinit { stop() }

    /// Stops serving and closes every connection.
    public func stop() {
        cond.withLock {
            guard !stopped else { return }
            stopped = true
            closeAllLocked()
            cond.broadcast()
        }
    }

    // MARK: - Controls

    /// Adds a pod (running, every container ready, unless `state` says otherwise).
    public func addPod(
        namespace: String = "default", name: String, containers: [ContainerSpec], initContainers: [ContainerSpec] = [],
        node: String = "node-1", labels: [String: String] = [:], state: ContainerState = .running
    ) {
        cond.withLock {
            if !namespaces.contains(namespace) { namespaces.append(namespace) }
            var pod = Pod(
                namespace: namespace, name: name, uid: UUID().uuidString.lowercased(), node: node, labels: labels,
                phase: "Running", created: Date(),
                containers: initContainers.map { Container(spec: $0, isInit: true, state: .terminated(reason: "Completed", exitCode: 0)) }
                    + containers.map { Container(spec: $0, isInit: false, state: state, ready: state == .running) })
            if state != .running { pod.phase = "Pending" }
            podChangedLocked(&pod, type: "ADDED")
        }
    }

    /// Deletes a pod: its watchers see DELETED and its log streams end.
    public func deletePod(namespace: String = "default", name: String) {
        cond.withLock {
            guard var pod = pods.removeValue(forKey: "\(namespace)/\(name)") else { return }
            for i in pod.containers.indices { pod.containers[i].generation += 1 }
            resourceVersion += 1
            pod.resourceVersion = resourceVersion
            podEvents.append(WatchEvent(resourceVersion: resourceVersion, type: "DELETED", object: podJSON(pod), namespace: namespace))
            cond.broadcast()
        }
    }

    /// Sets a container's state as status shows it (a restart count, a waiting reason...).
    public func setContainerState(
        namespace: String = "default", pod name: String, container: String, _ state: ContainerState,
        restartCount: Int? = nil, lastTerminated: (reason: String, exitCode: Int)? = nil
    ) {
        cond.withLock {
            guard var pod = pods["\(namespace)/\(name)"], let i = pod.containers.firstIndex(where: { $0.spec.name == container }) else { return }
            pod.containers[i].state = state
            pod.containers[i].ready = state == .running
            if let restartCount { pod.containers[i].restartCount = restartCount }
            if let lastTerminated { pod.containers[i].lastTerminated = lastTerminated }
            pod.phase = state == .running ? "Running" : pod.phase
            podChangedLocked(&pod, type: "MODIFIED")
        }
    }

    /// Appends lines to a container's current (or previous) log, each stamped with a distinct
    /// time after every earlier line (or `at`, seconds since the epoch, for the first). Returns
    /// the timestamps written.
    @discardableResult
    public func appendLog(
        namespace: String = "default", pod name: String, container: String, _ lines: [String], previous: Bool = false,
        at time: Double? = nil
    ) -> [String] {
        cond.withLock {
            guard var pod = pods["\(namespace)/\(name)"], let i = pod.containers.firstIndex(where: { $0.spec.name == container }) else { return [] }
            var stamps: [String] = []
            var nanos = Self.nanos(time ?? Date().timeIntervalSince1970)
            for line in lines {
                if time == nil { nanos = max(nanos, lastLogNanos + 1) }
                lastLogNanos = max(lastLogNanos, nanos)
                let entry = LogLine(nanos: nanos, text: line)
                if previous {
                    pod.containers[i].previous = (pod.containers[i].previous ?? []) + [entry]
                } else {
                    pod.containers[i].current.append(entry)
                }
                stamps.append(Self.timestamp(nanos))
                nanos += 1
            }
            pods["\(namespace)/\(name)"] = pod
            cond.broadcast()
            return stamps
        }
    }

    /// A container restarts: its log becomes the previous log, a new empty one starts, the restart
    /// count grows, its follow streams end (as when the kubelet's container exits).
    public func restartContainer(namespace: String = "default", pod name: String, container: String, reason: String = "Error", exitCode: Int = 1) {
        cond.withLock {
            guard var pod = pods["\(namespace)/\(name)"], let i = pod.containers.firstIndex(where: { $0.spec.name == container }) else { return }
            pod.containers[i].previous = pod.containers[i].current
            pod.containers[i].current = []
            pod.containers[i].restartCount += 1
            pod.containers[i].generation += 1
            pod.containers[i].lastTerminated = (reason, exitCode)
            pod.containers[i].state = .running
            podChangedLocked(&pod, type: "MODIFIED")
        }
    }

    /// Ends the open follow streams of the log of one container (or all), mid-way: a load
    /// balancer or the API server closing a long request.
    public func closeLogStreams(namespace: String? = nil, pod name: String? = nil, container: String? = nil) {
        cond.withLock {
            for key in pods.keys {
                guard var pod = pods[key] else { continue }
                if let namespace, pod.namespace != namespace { continue }
                if let name, pod.name != name { continue }
                for i in pod.containers.indices where container == nil || pod.containers[i].spec.name == container {
                    pod.containers[i].generation += 1
                }
                pods[key] = pod
            }
            cond.broadcast()
        }
    }

    /// The API server goes away (connections refused, open ones closed) for `seconds`, then comes
    /// back on the same port. Returns at once.
    public func goDown(for seconds: Double) {
        cond.withLock {
            down = true
            epoch += 1
            closeAllLocked()
            cond.broadcast()
        }
        let thread = Thread { [weak self] in
            Thread.sleep(forTimeInterval: seconds)
            self?.comeBack()
        }
        thread.start()
    }

    /// Whether the server is down now.
    public var isDown: Bool { cond.withLock { down } }

    private func comeBack() {
        for _ in 0..<200 {
            let bound = cond.withLock { () -> Bool in
                guard !stopped, down else { return true }
                return (try? bindLocked(port: port)) != nil
            }
            if bound { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let restart = cond.withLock { () -> Bool in
            guard !stopped, down, listenFD >= 0 else { return false }
            down = false
            return true
        }
        if restart { startAcceptLoop() }
    }

    /// Answers 403 Forbidden (a real Status) for a resource: "pods", "pods/log", "events",
    /// "namespaces"; `nil` lifts every refusal.
    public func forbid(_ resource: String?) {
        cond.withLock {
            if let resource { forbidden.insert(resource) } else { forbidden.removeAll() }
        }
    }

    /// The kubelet of a node cannot be reached: its pods' logs answer the API server's 500
    /// "dial tcp …:10250" error. `reachable` undoes it.
    public func setKubeletUnreachable(node: String, _ unreachable: Bool = true) {
        cond.withLock {
            if unreachable { unreachableNodes.insert(node) } else { unreachableNodes.remove(node) }
        }
    }

    /// Adds (or counts again) an event about a pod, as the kubelet or the scheduler reports it.
    public func addEvent(
        namespace: String = "default", pod: String, type: String = "Warning", reason: String, message: String,
        component: String = "kubelet", host: String? = "node-1", count: Int = 1, name: String? = nil
    ) {
        cond.withLock {
            resourceVersion += 1
            let eventName = name ?? "\(pod).\(String(resourceVersion, radix: 16))"
            let key = "\(namespace)/\(eventName)"
            let now = Self.rfc3339(Date())
            let first = (events[key]?["firstTimestamp"] as? String) ?? now
            var source: [String: Any] = ["component": component]
            if let host { source["host"] = host }
            let object: [String: Any] = [
                "apiVersion": "v1", "kind": "Event",
                "metadata": [
                    "name": eventName, "namespace": namespace, "resourceVersion": "\(resourceVersion)",
                    "uid": UUID().uuidString.lowercased(), "creationTimestamp": first,
                ],
                "involvedObject": [
                    "kind": "Pod", "namespace": namespace, "name": pod, "apiVersion": "v1",
                    "uid": pods["\(namespace)/\(pod)"]?.uid ?? "",
                ],
                "reason": reason, "message": message, "source": source, "type": type, "count": count,
                "firstTimestamp": first, "lastTimestamp": now, "reportingComponent": component, "reportingInstance": host ?? "",
            ]
            let isNew = events[key] == nil
            events[key] = object
            eventEvents.append(WatchEvent(resourceVersion: resourceVersion, type: isNew ? "ADDED" : "MODIFIED", object: object, namespace: namespace))
            cond.broadcast()
        }
    }

    /// Replaces fields of a pod's `metadata`, `spec` or `status` as it is served, for what the
    /// other controls do not set: conditions, volumes, a pod the scheduler has not placed (no
    /// container statuses), a phase such as Succeeded. (Added for the `casewatch triage` tests.)
    public func overlayPod(namespace: String = "default", name: String, _ sections: [String: [String: Any]]) {
        cond.withLock { podOverlays["\(namespace)/\(name)"] = sections }
    }

    /// Writes a kubeconfig for this server (one cluster, one user, one context) to `path`.
    public func writeKubeconfig(to path: String, context: String = "casewatch-test", namespace: String = "default") throws {
        let yaml = """
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
                namespace: \(namespace)
            current-context: \(context)

            """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: - Formatting

    /// Seconds since the epoch → nanoseconds, the fraction rounded to the microsecond (a Double
    /// holds no more), so `t + 0.25` is exactly a quarter second.
    public static func nanos(_ seconds: Double) -> Int64 {
        let whole = seconds.rounded(.down)
        return Int64(whole) * 1_000_000_000 + Int64(((seconds - whole) * 1e6).rounded()) * 1000
    }

    /// RFC 3339 with nanoseconds, as the kubelet stamps log lines.
    public static func timestamp(_ nanos: Int64) -> String {
        let seconds = nanos / 1_000_000_000
        let fraction = nanos % 1_000_000_000
        let base = rfc3339(Date(timeIntervalSince1970: Double(seconds)))
        var f = String(fraction)
        f = String(repeating: "0", count: 9 - f.count) + f
        return base.replacingOccurrences(of: "Z", with: ".\(f)Z")
    }

    static func rfc3339(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return f.string(from: date)
    }

    /// Parses an RFC 3339 time to nanoseconds since the epoch (fraction optional).
    static func parseNanos(_ s: String) -> Int64? {
        guard s.count >= 20 else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard let date = f.date(from: String(s.prefix(19))) else { return nil }
        var nanos = Int64(date.timeIntervalSince1970) * 1_000_000_000
        let rest = s.dropFirst(19)
        if rest.hasPrefix(".") {
            let digits = rest.dropFirst().prefix { $0.isNumber }
            let padded = (String(digits) + "000000000").prefix(9)
            nanos += Int64(padded) ?? 0
        }
        return nanos
    }

    private func podChangedLocked(_ pod: inout Pod, type: String) {
        resourceVersion += 1
        pod.resourceVersion = resourceVersion
        pods["\(pod.namespace)/\(pod.name)"] = pod
        podEvents.append(WatchEvent(resourceVersion: resourceVersion, type: type, object: podJSON(pod), namespace: pod.namespace))
        cond.broadcast()
    }

    private func podJSON(_ pod: Pod) -> [String: Any] {
        func status(_ c: Container) -> [String: Any] {
            var s: [String: Any] = [
                "name": c.spec.name, "image": c.spec.image, "imageID": "", "ready": c.ready, "restartCount": c.restartCount,
                "started": c.state == .running, "containerID": "containerd://\(c.spec.name)-\(c.restartCount)",
            ]
            switch c.state {
            case .running: s["state"] = ["running": ["startedAt": Self.rfc3339(pod.created)]]
            case .waiting(let reason, let message): s["state"] = ["waiting": ["reason": reason, "message": message]]
            case .terminated(let reason, let code):
                s["state"] = ["terminated": ["reason": reason, "exitCode": code, "startedAt": Self.rfc3339(pod.created), "finishedAt": Self.rfc3339(pod.created)]]
            }
            if let last = c.lastTerminated {
                s["lastState"] = ["terminated": ["reason": last.reason, "exitCode": last.exitCode, "startedAt": Self.rfc3339(pod.created), "finishedAt": Self.rfc3339(Date())]]
            } else {
                s["lastState"] = [String: Any]()
            }
            return s
        }
        let inits = pod.containers.filter(\.isInit), mains = pod.containers.filter { !$0.isInit }
        var spec: [String: Any] = [
            "nodeName": pod.node, "containers": mains.map { ["name": $0.spec.name, "image": $0.spec.image] },
        ]
        if !inits.isEmpty { spec["initContainers"] = inits.map { ["name": $0.spec.name, "image": $0.spec.image] } }
        var st: [String: Any] = [
            "phase": pod.phase, "containerStatuses": mains.map(status), "startTime": Self.rfc3339(pod.created),
            "hostIP": "10.0.0.1", "podIP": "10.244.0.10",
        ]
        if !inits.isEmpty { st["initContainerStatuses"] = inits.map(status) }
        var metadata: [String: Any] = [
            "name": pod.name, "namespace": pod.namespace, "uid": pod.uid, "resourceVersion": "\(pod.resourceVersion)",
            "creationTimestamp": Self.rfc3339(pod.created), "labels": pod.labels,
        ]
        if let o = podOverlays["\(pod.namespace)/\(pod.name)"] {
            metadata.merge(o["metadata"] ?? [:]) { $1 }
            spec.merge(o["spec"] ?? [:]) { $1 }
            st.merge(o["status"] ?? [:]) { $1 }
        }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": st]
    }

    // MARK: - Sockets

    private func bind(port: UInt16) throws {
        try cond.withLock { try bindLocked(port: port) }
    }

    private func bindLocked(port requested: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = requested.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 512) == 0 else {
            let e = errno
            close(fd)
            throw Failure("bind 127.0.0.1:\(requested): errno \(e)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: actual.sin_port)
        listenFD = fd
    }

    private func closeAllLocked() {
        if listenFD >= 0 {
            shutdown(listenFD, Int32(SHUT_RDWR))
            close(listenFD)
            listenFD = -1
        }
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func startAcceptLoop() {
        let fd = cond.withLock { listenFD }
        let thread = Thread { [weak self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else {
                    if errno == EINTR { continue }
                    return
                }
                guard let self else {
                    close(client)
                    return
                }
                let accepted = self.cond.withLock { () -> Bool in
                    if self.down || self.stopped { return false }
                    self.connections.insert(client)
                    return true
                }
                guard accepted else {
                    close(client)
                    continue
                }
                let worker = Thread { [weak self] in
                    self?.serve(client)
                    if let self { _ = self.cond.withLock { self.connections.remove(client) } }
                    close(client)
                }
                worker.stackSize = 256 * 1024
                worker.start()
            }
        }
        thread.name = "kube-api-accept"
        thread.start()
    }

    struct Request {
        var method: String
        var path: String
        var query: [String: String]
        var headers: [String: String]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Serves requests on one connection until it closes or a streaming answer ends it.
    private func serve(_ fd: Int32) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            // Read one request head (and its body, which is ignored).
            var headEnd: Int?
            while headEnd == nil {
                if let r = find(buffer, [13, 10, 13, 10]) { headEnd = r; break }
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
            buffer.removeFirst(headEnd! + 4)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return }
            var headers: [String: String] = [:]
            for l in lines {
                if let colon = l.firstIndex(of: ":") {
                    headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            if let length = headers["content-length"].flatMap(Int.init), length > 0 {
                while buffer.count < length {
                    let n = read(fd, &chunk, chunk.count)
                    if n <= 0 { return }
                    buffer.append(contentsOf: chunk[0..<n])
                }
                buffer.removeFirst(length)
            }
            let target = String(requestLine[1])
            let (path, query) = Self.splitTarget(target)
            let request = Request(method: String(requestLine[0]), path: path, query: query, headers: headers)
            cond.withLock { requestLog.append("\(request.method) \(target)") }
            if !handle(request, fd) { return }
        }
    }

    private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<i + needle.count]) == needle { return i }
        }
        return nil
    }

    static func splitTarget(_ target: String) -> (String, [String: String]) {
        guard let q = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let raw = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            query[key] = raw.removingPercentEncoding ?? raw
        }
        return (String(target[..<q]), query)
    }

    // MARK: - Responses

    @discardableResult
    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    private func respond(_ fd: Int32, status: Int, json: Any) -> Bool {
        let body = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data()
        return respond(fd, status: status, contentType: "application/json", body: [UInt8](body))
    }

    private func respond(_ fd: Int32, status: Int, contentType: String, body: [UInt8]) -> Bool {
        let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nCache-Control: no-cache, private\r\n\r\n"
        return write(fd, Array(head.utf8) + body)
    }

    private func startChunked(_ fd: Int32, contentType: String) -> Bool {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache, private\r\n\r\n"
        return write(fd, Array(head.utf8))
    }

    private func chunk(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        return write(fd, Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10])
    }

    private func endChunked(_ fd: Int32) { write(fd, Array("0\r\n\r\n".utf8)) }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 500: "Internal Server Error"
        default: "Status"
        }
    }

    static func status(_ code: Int, reason: String?, message: String, details: [String: Any]? = nil) -> [String: Any] {
        var s: [String: Any] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure", "message": message, "code": code,
        ]
        if let reason { s["reason"] = reason }
        if let details { s["details"] = details }
        return s
    }

    private func notFound(_ fd: Int32, resource: String, name: String, group: String = "") -> Bool {
        let qualified = group.isEmpty ? resource : "\(resource).\(group)"
        var details: [String: Any] = ["name": name, "kind": resource]
        if !group.isEmpty { details["group"] = group }
        return respond(fd, status: 404, json: Self.status(404, reason: "NotFound", message: "\(qualified) \"\(name)\" not found", details: details))
    }

    private func forbiddenAnswer(_ fd: Int32, resource: String, verb: String, name: String?, namespace: String?) -> Bool {
        let base = resource.split(separator: "/").first.map(String.init) ?? resource
        var message = name.map { "\(base) \"\($0)\" is forbidden: " } ?? "\(base) is forbidden: "
        message += "User \"system:serviceaccount:casewatch:casewatch\" cannot \(verb) resource \"\(resource)\" in API group \"\""
        message += namespace.map { " in the namespace \"\($0)\"" } ?? " at the cluster scope"
        var details: [String: Any] = ["kind": base]
        if let name { details["name"] = name }
        return respond(fd, status: 403, json: Self.status(403, reason: "Forbidden", message: message, details: details))
    }

    /// Answers one request; false when the connection is to close (after a stream).
    private func handle(_ r: Request, _ fd: Int32) -> Bool {
        let parts = r.path.split(separator: "/").map(String.init)
        switch r.path {
        case "/version":
            return respond(fd, status: 200, json: [
                "major": "1", "minor": serverMinor, "gitVersion": "v1.\(serverMinor).0", "gitCommit": "casewatch-test",
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
                "platform": "linux/amd64",
            ])
        case "/api":
            return respond(fd, status: 200, json: [
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:\(port)"]],
            ])
        case "/apis":
            return respond(fd, status: 200, json: ["kind": "APIGroupList", "apiVersion": "v1", "groups": Self.groups.map(\.list)])
        case "/api/v1":
            return respond(fd, status: 200, json: Self.resourceList("v1", Self.coreResources))
        default: break
        }
        if parts.count == 2 && parts[0] == "apis", let g = Self.groups.first(where: { $0.name == parts[1] }) {
            return respond(fd, status: 200, json: ["kind": "APIGroup", "apiVersion": "v1"].merging(g.list) { a, _ in a })
        }
        if parts.count == 3 && parts[0] == "apis", let g = Self.groups.first(where: { $0.name == parts[1] && $0.version == parts[2] }) {
            return respond(fd, status: 200, json: Self.resourceList("\(g.name)/\(g.version)", g.resources))
        }
        if parts.count >= 4 && parts[0] == "apis", let g = Self.groups.first(where: { $0.name == parts[1] && $0.version == parts[2] }) {
            // Named objects of the other groups: none exist (an apply --dry-run=client creates).
            let rest = Array(parts.dropFirst(3))
            let resource = rest.count >= 3 && rest[0] == "namespaces" ? rest[2] : rest[0]
            let name = rest.count >= 4 && rest[0] == "namespaces" ? rest[3] : (rest.count == 2 ? rest[1] : nil)
            if let name, r.method == "GET" { return notFound(fd, resource: resource, name: name, group: g.name) }
            return respond(fd, status: 200, json: ["kind": "List", "apiVersion": "v1", "metadata": ["resourceVersion": "\(cond.withLock { resourceVersion })"], "items": [Any]()])
        }
        guard parts.count >= 3, parts[0] == "api", parts[1] == "v1" else {
            return respond(fd, status: 404, json: Self.status(404, reason: "NotFound", message: "the server could not find the requested resource"))
        }
        var rest = Array(parts.dropFirst(2))
        var namespace: String?
        if rest.count >= 3 && rest[0] == "namespaces" {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        if rest == ["namespaces"] || (rest.count == 2 && rest[0] == "namespaces") {
            if cond.withLock({ forbidden.contains("namespaces") }) {
                return forbiddenAnswer(fd, resource: "namespaces", verb: rest.count == 2 ? "get" : "list", name: rest.count == 2 ? rest[1] : nil, namespace: nil)
            }
            if rest.count == 2 {
                guard cond.withLock({ namespaces.contains(rest[1]) }) else { return notFound(fd, resource: "namespaces", name: rest[1]) }
                return respond(fd, status: 200, json: Self.namespaceJSON(rest[1]))
            }
            let all = cond.withLock { namespaces }
            return respond(fd, status: 200, json: [
                "kind": "NamespaceList", "apiVersion": "v1", "metadata": ["resourceVersion": "\(cond.withLock { resourceVersion })"],
                "items": all.map(Self.namespaceJSON),
            ])
        }
        switch rest.first {
        case "pods":
            if rest.count == 1 {
                if cond.withLock({ forbidden.contains("pods") }) {
                    return forbiddenAnswer(fd, resource: "pods", verb: r.query["watch"] == "true" ? "watch" : "list", name: nil, namespace: namespace)
                }
                return r.query["watch"] == "true" || r.query["watch"] == "1"
                    ? watch(fd, r, namespace: namespace, pods: true) : listPods(fd, r, namespace: namespace)
            }
            guard let namespace else { break }
            let name = rest[1]
            if rest.count == 2 {
                if cond.withLock({ forbidden.contains("pods") }) { return forbiddenAnswer(fd, resource: "pods", verb: "get", name: name, namespace: namespace) }
                guard let json = cond.withLock({ pods["\(namespace)/\(name)"].map(podJSON) }) else { return notFound(fd, resource: "pods", name: name) }
                return respond(fd, status: 200, json: json)
            }
            if rest.count == 3 && rest[2] == "log" { return log(fd, r, namespace: namespace, pod: name) }
        case "events":
            if rest.count == 1 {
                if cond.withLock({ forbidden.contains("events") }) {
                    return forbiddenAnswer(fd, resource: "events", verb: r.query["watch"] == "true" ? "watch" : "list", name: nil, namespace: namespace)
                }
                if r.query["watch"] == "true" || r.query["watch"] == "1" { return watch(fd, r, namespace: namespace, pods: false) }
                let (items, rv) = cond.withLock { (events.values.filter { namespace == nil || ($0["metadata"] as? [String: Any])?["namespace"] as? String == namespace }, resourceVersion) }
                return respond(fd, status: 200, json: ["kind": "EventList", "apiVersion": "v1", "metadata": ["resourceVersion": "\(rv)"], "items": items])
            }
            if rest.count == 2 { return notFound(fd, resource: "events", name: rest[1]) }
        default:
            if rest.count == 2, let resource = rest.first, r.method == "GET" { return notFound(fd, resource: resource, name: rest[1]) }
            if rest.count == 1 {
                return respond(fd, status: 200, json: ["kind": "List", "apiVersion": "v1", "metadata": ["resourceVersion": "\(cond.withLock { resourceVersion })"], "items": [Any]()])
            }
        }
        return respond(fd, status: 404, json: Self.status(404, reason: "NotFound", message: "the server could not find the requested resource"))
    }

    static func namespaceJSON(_ name: String) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "resourceVersion": "1"], "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]]
    }

    private func selects(_ pod: [String: Any], _ r: Request) -> Bool {
        let metadata = pod["metadata"] as? [String: Any] ?? [:]
        if let field = r.query["fieldSelector"], !field.isEmpty {
            for term in field.split(separator: ",") {
                let negate = term.contains("!=")
                let kv = term.components(separatedBy: negate ? "!=" : (term.contains("==") ? "==" : "="))
                guard kv.count == 2 else { return false }
                let actual: String?
                switch kv[0] {
                case "spec.nodeName": actual = (pod["spec"] as? [String: Any])?["nodeName"] as? String
                case "metadata.name": actual = metadata["name"] as? String
                case "metadata.namespace": actual = metadata["namespace"] as? String
                case "status.phase": actual = (pod["status"] as? [String: Any])?["phase"] as? String
                default: actual = nil
                }
                if (actual == kv[1]) == negate { return false }
            }
        }
        if let label = r.query["labelSelector"], !label.isEmpty {
            let labels = metadata["labels"] as? [String: String] ?? [:]
            for term in label.split(separator: ",").map(String.init) {
                if term.contains("!=") {
                    let kv = term.components(separatedBy: "!=")
                    if labels[kv[0]] == kv[1] { return false }
                } else if term.contains("=") {
                    let kv = term.components(separatedBy: term.contains("==") ? "==" : "=")
                    if labels[kv[0]] != kv[1] { return false }
                } else if term.hasPrefix("!") {
                    if labels[String(term.dropFirst())] != nil { return false }
                } else if labels[term] == nil {
                    return false
                }
            }
        }
        return true
    }

    private func listPods(_ fd: Int32, _ r: Request, namespace: String?) -> Bool {
        let (items, rv) = cond.withLock {
            (pods.values.filter { namespace == nil || $0.namespace == namespace }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }.map(podJSON), resourceVersion)
        }
        return respond(fd, status: 200, json: [
            "kind": "PodList", "apiVersion": "v1", "metadata": ["resourceVersion": "\(rv)"], "items": items.filter { selects($0, r) },
        ])
    }

    /// A watch: every change after `resourceVersion` as `{"type":…,"object":…}` lines, then waits
    /// for more until the server goes down, stops or `timeoutSeconds` passes.
    private func watch(_ fd: Int32, _ r: Request, namespace: String?, pods watchPods: Bool) -> Bool {
        let since = Int(r.query["resourceVersion"] ?? "") ?? 0
        let timeout = Double(r.query["timeoutSeconds"] ?? "") ?? 1800
        let deadline = Date().addingTimeInterval(timeout)
        guard startChunked(fd, contentType: "application/json") else { return false }
        var sent = since
        let myEpoch = cond.withLock { epoch }
        if since == 0 {
            // No version: the current state as ADDED first, as the real server does.
            let (objects, rv) = cond.withLock {
                ((watchPods ? pods.values.map(podJSON) : Array(events.values)), resourceVersion)
            }
            for o in objects where namespace == nil || ((o["metadata"] as? [String: Any])?["namespace"] as? String) == namespace {
                if watchPods && !selects(o, r) { continue }
                guard line(fd, ["type": "ADDED", "object": o]) else { return false }
            }
            sent = rv
        }
        while true {
            cond.lock()
            var pending: [WatchEvent] = []
            while true {
                if stopped || epoch != myEpoch || Date() >= deadline { break }
                pending = (watchPods ? podEvents : eventEvents).filter { $0.resourceVersion > sent }
                if !pending.isEmpty { break }
                if Self.clientGone(fd) { break }
                cond.wait(until: min(deadline, Date().addingTimeInterval(0.2)))
            }
            let end = pending.isEmpty
            cond.unlock()
            if end {
                endChunked(fd)
                return false
            }
            for e in pending {
                sent = e.resourceVersion
                if let namespace, e.namespace != namespace { continue }
                if watchPods && !selects(e.object, r) { continue }
                guard line(fd, ["type": e.type, "object": e.object]) else { return false }
            }
        }
    }

    /// The client closed its end (kubectl was stopped): a follow stream ends at once, as the
    /// real server's does, rather than at its next write.
    static func clientGone(_ fd: Int32) -> Bool {
        // 0x2000: POLLRDHUP (the peer shut its writing side), not exported by the Glibc module.
        var p = pollfd(fd: fd, events: Int16(POLLIN) | Int16(0x2000), revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        if p.revents & (Int16(0x2000) | Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) == 0
    }

    private func line(_ fd: Int32, _ json: [String: Any]) -> Bool {
        guard let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]) else { return false }
        return chunk(fd, [UInt8](data) + [10])
    }

    /// The pod log: `container`, `follow`, `timestamps`, `sinceTime` (whole seconds, inclusive),
    /// `sinceSeconds`, `previous`, `tailLines`, `limitBytes`.
    private func log(_ fd: Int32, _ r: Request, namespace: String, pod name: String) -> Bool {
        cond.lock()
        if forbidden.contains("pods/log") {
            cond.unlock()
            return forbiddenAnswer(fd, resource: "pods/log", verb: "get", name: name, namespace: namespace)
        }
        guard let pod = pods["\(namespace)/\(name)"] else {
            cond.unlock()
            return notFound(fd, resource: "pods", name: name)
        }
        let containerName = r.query["container"] ?? pod.containers.first(where: { !$0.isInit })?.spec.name ?? ""
        guard let index = pod.containers.firstIndex(where: { $0.spec.name == containerName }) else {
            cond.unlock()
            return respond(fd, status: 400, json: Self.status(400, reason: "BadRequest", message: "container \(containerName) is not valid for pod \(name)"))
        }
        let previous = r.query["previous"] == "true"
        let follow = r.query["follow"] == "true" && !previous
        let timestamps = r.query["timestamps"] == "true"
        if unreachableNodes.contains(pod.node) {
            cond.unlock()
            var target = "https://10.0.0.\(abs(pod.node.hashValue % 200) + 2):10250/containerLogs/\(namespace)/\(name)/\(containerName)"
            let flags = [follow ? "follow=true" : nil, timestamps ? "timestamps=true" : nil].compactMap { $0 }
            if !flags.isEmpty { target += "?" + flags.joined(separator: "&") }
            let host = target.dropFirst(8).prefix { $0 != "/" }
            return respond(fd, status: 500, json: Self.status(500, reason: nil, message: "Get \"\(target)\": dial tcp \(host): connect: connection refused"))
        }
        let c = pod.containers[index]
        if previous && c.previous == nil {
            cond.unlock()
            return respond(fd, status: 400, json: Self.status(400, reason: "BadRequest", message: "previous terminated container \"\(containerName)\" in pod \"\(name)\" not found"))
        }
        if case .waiting(let reason, _) = c.state, !previous, c.current.isEmpty {
            cond.unlock()
            return respond(fd, status: 400, json: Self.status(400, reason: "BadRequest", message: "container \"\(containerName)\" in pod \"\(name)\" is waiting to start: \(reason)"))
        }
        var sinceNanos: Int64 = .min
        if let s = r.query["sinceTime"], let n = Self.parseNanos(s) {
            // The kubelet gets the time in whole seconds and keeps lines at or after it.
            sinceNanos = n - n % 1_000_000_000
        } else if let s = r.query["sinceSeconds"].flatMap(Int64.init) {
            sinceNanos = Int64(Date().timeIntervalSince1970) * 1_000_000_000 - s * 1_000_000_000
        }
        let generation = c.generation
        let myEpoch = epoch
        var lines = (previous ? c.previous ?? [] : c.current).filter { $0.nanos >= sinceNanos }
        if let tail = r.query["tailLines"].flatMap(Int.init), tail >= 0 { lines = Array(lines.suffix(tail)) }
        var sentCount = (previous ? c.previous ?? [] : c.current).count
        var limit = r.query["limitBytes"].flatMap(Int.init) ?? .max
        if follow {
            openLogs += 1
            maxOpenLogs = max(maxOpenLogs, openLogs)
        }
        cond.unlock()
        defer { if follow { cond.withLock { openLogs -= 1 } } }
        guard startChunked(fd, contentType: "text/plain") else { return false }
        func send(_ lines: [LogLine]) -> Bool {
            var out: [UInt8] = []
            for l in lines {
                var text = timestamps ? "\(Self.timestamp(l.nanos)) \(l.text)\n" : "\(l.text)\n"
                if text.utf8.count > limit { text = String(decoding: Array(text.utf8.prefix(limit)), as: UTF8.self) }
                limit -= text.utf8.count
                out += Array(text.utf8)
                if limit <= 0 { break }
            }
            return chunk(fd, out)
        }
        guard send(lines), limit > 0, follow else {
            endChunked(fd)
            return !follow && limit > 0
        }
        while true {
            cond.lock()
            var fresh: [LogLine] = []
            var end = false
            while true {
                guard !stopped, epoch == myEpoch, let p = pods["\(namespace)/\(name)"],
                    p.containers[index].generation == generation
                else {
                    end = true
                    break
                }
                let all = p.containers[index].current
                if all.count > sentCount {
                    fresh = Array(all[sentCount...])
                    sentCount = all.count
                    break
                }
                if Self.clientGone(fd) {
                    end = true
                    break
                }
                // A closed client is noticed within 50 ms: `kubectl proxy` closes a stream and
                // opens the next one in milliseconds (a new kubectl takes longer to start), and
                // openLogStreams must not count the closed one meanwhile.
                cond.wait(until: Date().addingTimeInterval(0.05))
            }
            cond.unlock()
            if end {
                endChunked(fd)
                return false
            }
            guard send(fresh), limit > 0 else {
                endChunked(fd)
                return false
            }
        }
    }

    // MARK: - Discovery documents

    struct Resource {
        var name: String
        var kind: String
        var namespaced: Bool
        var verbs: [String]
        var shortNames: [String] = []
    }

    struct Group {
        var name: String
        var version: String
        var resources: [Resource]
        var list: [String: Any] {
            let v: [String: Any] = ["groupVersion": "\(name)/\(version)", "version": version]
            return ["name": name, "versions": [v], "preferredVersion": v]
        }
    }

    static let readWrite = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    static let coreResources: [Resource] = [
        Resource(name: "pods", kind: "Pod", namespaced: true, verbs: readWrite, shortNames: ["po"]),
        Resource(name: "pods/log", kind: "Pod", namespaced: true, verbs: ["get"]),
        Resource(name: "pods/status", kind: "Pod", namespaced: true, verbs: ["get", "patch", "update"]),
        Resource(name: "events", kind: "Event", namespaced: true, verbs: readWrite, shortNames: ["ev"]),
        Resource(name: "namespaces", kind: "Namespace", namespaced: false, verbs: ["create", "delete", "get", "list", "patch", "update", "watch"], shortNames: ["ns"]),
        Resource(name: "nodes", kind: "Node", namespaced: false, verbs: readWrite, shortNames: ["no"]),
        Resource(name: "serviceaccounts", kind: "ServiceAccount", namespaced: true, verbs: readWrite, shortNames: ["sa"]),
        Resource(name: "configmaps", kind: "ConfigMap", namespaced: true, verbs: readWrite, shortNames: ["cm"]),
        Resource(name: "secrets", kind: "Secret", namespaced: true, verbs: readWrite),
        Resource(name: "services", kind: "Service", namespaced: true, verbs: readWrite, shortNames: ["svc"]),
        Resource(name: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true, verbs: readWrite, shortNames: ["pvc"]),
    ]

    static let groups: [Group] = [
        Group(name: "apps", version: "v1", resources: [
            Resource(name: "daemonsets", kind: "DaemonSet", namespaced: true, verbs: readWrite, shortNames: ["ds"]),
            Resource(name: "deployments", kind: "Deployment", namespaced: true, verbs: readWrite, shortNames: ["deploy"]),
            Resource(name: "statefulsets", kind: "StatefulSet", namespaced: true, verbs: readWrite, shortNames: ["sts"]),
            Resource(name: "replicasets", kind: "ReplicaSet", namespaced: true, verbs: readWrite, shortNames: ["rs"]),
        ]),
        Group(name: "rbac.authorization.k8s.io", version: "v1", resources: [
            Resource(name: "clusterroles", kind: "ClusterRole", namespaced: false, verbs: readWrite),
            Resource(name: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false, verbs: readWrite),
            Resource(name: "roles", kind: "Role", namespaced: true, verbs: readWrite),
            Resource(name: "rolebindings", kind: "RoleBinding", namespaced: true, verbs: readWrite),
        ]),
    ]

    static func resourceList(_ groupVersion: String, _ resources: [Resource]) -> [String: Any] {
        [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVersion,
            "resources": resources.map { r -> [String: Any] in
                var o: [String: Any] = ["name": r.name, "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs]
                if !r.shortNames.isEmpty { o["shortNames"] = r.shortNames }
                return o
            },
        ]
    }
}

/// The kubectl binaries the suite runs against: the oldest and newest installed beside the
/// `kubectl` on PATH (a gcloud dispatcher, not used itself).
public enum KubectlBinaries {
    public static let versions = ["1.27", "1.33"]

    /// The directory of the real kubectl binaries.
    public static var directory: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(dir)/kubectl"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath()
                return resolved.deletingLastPathComponent().path
            }
        }
        return nil
    }

    /// The path of kubectl `version` (for example "1.27").
    public static func path(_ version: String) -> String? {
        guard let directory else { return nil }
        let path = "\(directory)/kubectl.\(version)"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
