import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on 127.0.0.1 (port 0: the kernel picks) that records every request, for the
/// webhook tests. It can be told to answer the next requests with an error status or a 200 with
/// an error body, and to go down (stop listening, drop its connections) and come back on the
/// same port. Waiting for requests is event-driven (a condition signalled per request).
public final class HTTPReceiver: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [String: String]
        public var body: Data
        /// When its body had arrived (the receiver's clock, before it answered).
        public var received = Date()
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object (nil when it is not one).
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var headers: [String: String]
        public init(status: Int, body: String = "", headers: [String: String] = [:]) {
            self.status = status
            self.body = body
            self.headers = headers
        }
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let condition = NSCondition()
    private var channel: Channel?
    private var children: [ObjectIdentifier: Channel] = [:]
    private var recorded: [Request] = []
    private var scripted: [Answer] = []
    /// What every request gets when nothing is scripted.
    public var defaultAnswer: Answer {
        get { condition.withLock { answer } }
        set { condition.withLock { answer = newValue } }
    }
    private var answer = Answer(status: 200, body: "{\"errcode\":0,\"errmsg\":\"ok\"}")
    public private(set) var port = 0

    public init() throws {
        try listen(port: 0)
    }

    deinit {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// The next `answers.count` requests get these, in order.
    public func script(_ answers: [Answer]) {
        condition.withLock { scripted += answers }
    }

    /// Every request so far.
    public var requests: [Request] { condition.withLock { recorded } }

    /// Waits until `predicate` holds for the requests (checked at each new request), at most
    /// `timeout` seconds; returns the requests then.
    @discardableResult
    public func await(timeout: Double, _ predicate: ([Request]) -> Bool) -> [Request] {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(recorded) {
            if !condition.wait(until: deadline) { break }
        }
        return recorded
    }

    /// Stops listening and closes every open connection: a receiver that is down.
    public func down() throws {
        let (server, open) = condition.withLock { (channel, Array(children.values)) }
        try server?.close().wait()
        for c in open { try? c.close().wait() }
        condition.withLock { channel = nil }
    }

    /// Listens again on the same port.
    public func up() throws {
        try listen(port: port)
    }

    private func listen(port wanted: Int) throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [weak self] channel in
                guard let self else { return channel.eventLoop.makeSucceededVoidFuture() }
                self.condition.withLock { self.children[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in _ = self.condition.withLock { self.children.removeValue(forKey: ObjectIdentifier(channel)) } }
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(receiver: self))
                }
            }
        let c = try bootstrap.bind(host: "127.0.0.1", port: wanted).wait()
        condition.withLock {
            channel = c
            port = c.localAddress?.port ?? wanted
        }
    }

    fileprivate func received(_ r: Request) -> Answer {
        condition.withLock {
            recorded.append(r)
            condition.broadcast()
            return scripted.isEmpty ? answer : scripted.removeFirst()
        }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let receiver: HTTPReceiver
        var head: HTTPRequestHead?
        var body = Data()

        init(receiver: HTTPReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = Data()
            case .body(var buffer):
                if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
            case .end:
                guard let h = head else { return }
                var headers: [String: String] = [:]
                for (k, v) in h.headers { headers[k.lowercased()] = v }
                let a = receiver.received(Request(method: "\(h.method)", uri: h.uri, headers: headers, body: body))
                var out = HTTPHeaders()
                out.add(name: "Content-Type", value: "application/json")
                out.add(name: "Content-Length", value: "\(a.body.utf8.count)")
                for (k, v) in a.headers { out.add(name: k, value: v) }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: HTTPResponseStatus(statusCode: a.status), headers: out))), promise: nil)
                var buffer = context.channel.allocator.buffer(capacity: a.body.utf8.count)
                buffer.writeString(a.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
