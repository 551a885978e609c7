import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Serves the Prometheus text on `metrics.listen`: a tiny HTTP/1.1 responder on one thread of its
/// own (GET /metrics, one request per connection, then close), smaller than an HTTP stack for a
/// scraper that asks every few seconds. It binds only the configured address (127.0.0.1 by
/// default). A client is given 2 seconds to send its request; clients are served one at a time.
///
/// The socket is bound when the service is made, so a taken port fails the start (before
/// READY=1) with a message, not later in the background.
public final class MetricsService: Service, @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let listen: DaemonConfiguration.Metrics
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let fd: Int32
    private let lock = NSLock()
    private var stopping = false

    /// The port bound (the configured one).
    public var port: Int { listen.port }

    public init(listen: DaemonConfiguration.Metrics, metrics: DaemonMetrics, logger: Logger) throws {
        self.listen = listen
        self.metrics = metrics
        self.logger = logger
        fd = try Self.bind(listen)
    }

    deinit { close(fd) }

    static func bind(_ listen: DaemonConfiguration.Metrics) throws -> Int32 {
        let v6 = listen.host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "Failed to open a socket for the metrics: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(listen.port).bigEndian)
            inet_pton(AF_INET6, listen.host, &a.sin6_addr)
            result = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(listen.port).bigEndian)
            inet_pton(AF_INET, listen.host, &a.sin_addr)
            result = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard result == 0, Glibc.listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "Failed to listen on \(listen.listen) for the metrics: \(message)")
        }
        return fd
    }

    public func run() async throws {
        logger.info("Serving metrics", metadata: ["listen": "\(listen.listen)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let thread = Thread {
                        self.serve()
                        done.resume()
                    }
                    thread.name = "casewatch-metrics"
                    thread.start()
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    private func stop() { lock.withLock { stopping = true } }

    /// Accepts until stopping; polls so that the stop is seen within a quarter second.
    private func serve() {
        while !lock.withLock({ stopping }) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 250) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            respond(client)
            close(client)
        }
    }

    private func respond(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // The request line and headers; the body (none for GET) is not read.
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while request.count < 16 * 1024 {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            request += chunk[0..<n]
            if Self.endOfHeaders(request) { break }
        }
        let response = Self.response(to: request, metrics: metrics)
        response.withUnsafeBytes { buffer in
            var sent = 0
            while sent < buffer.count {
                let n = send(client, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { return }
                sent += n
            }
        }
    }

    static func endOfHeaders(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        return bytes.withUnsafeBytes { b in (0...(b.count - 4)).contains { b[$0] == 13 && b[$0 + 1] == 10 && b[$0 + 2] == 13 && b[$0 + 3] == 10 } }
    }

    /// The whole response to one request: `GET /metrics` (query ignored) is the exposition.
    static func response(to request: [UInt8], metrics: DaemonMetrics) -> [UInt8] {
        let line = request.prefix { $0 != 13 && $0 != 10 }.split(separator: 32)
        guard line.count == 3, line[2].starts(with: Array("HTTP/1.".utf8)) else {
            return reply("400 Bad Request", "text/plain; charset=utf-8", Array("bad request\n".utf8))
        }
        let method = String(decoding: line[0], as: UTF8.self)
        let target = String(decoding: line[1], as: UTF8.self)
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        guard method == "GET" || method == "HEAD" else {
            return reply("405 Method Not Allowed", "text/plain; charset=utf-8", Array("only GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
        }
        let (status, type, body): (String, String, [UInt8])
        switch path {
        case "/metrics": (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        case "/": (status, type, body) = ("200 OK", "text/plain; charset=utf-8", Array("casewatch: metrics at /metrics\n".utf8))
        default: (status, type, body) = ("404 Not Found", "text/plain; charset=utf-8", Array("not found\n".utf8))
        }
        return reply(status, type, method == "HEAD" ? [] : body, length: body.count)
    }

    static func reply(_ status: String, _ type: String, _ body: [UInt8], length: Int? = nil, extra: String = "") -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(length ?? body.count)\r\n\(extra)Connection: close\r\n\r\n".utf8) + body
    }
}
