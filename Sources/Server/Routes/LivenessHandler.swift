import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `GET <prefix>/health` on the connection's event loop, before the request would become
/// a Swift task: probes call it several times a second on every replica, and the hop into
/// Swift concurrency and back (task, continuation, async writer) cost more than the answer.
/// The body is the route's (`SystemRoutes.healthBody`) and the request is counted in the
/// metrics like any other; every other request, and a `/health` with a query or
/// `Connection: close`, goes on to the router untouched.
///
/// HTTP/1.1 answers must keep the order of the requests: a request is answered here only when
/// no earlier request of the connection is still waiting for its answer (counted from the
/// parts that pass: a request head in, a response end out).
final class LivenessHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let path: String
    private let body: @Sendable () -> [UInt8]
    private let answered: @Sendable () -> Void
    /// Requests passed on to the router whose answer has not ended yet.
    private var waiting = 0
    /// The parts of a request answered here are swallowed until its end.
    private var answering = false

    /// - Parameters:
    ///   - path: the exact request target (prefix included).
    ///   - body: the JSON answer, made for each request (it holds the uptime).
    ///   - answered: called for each answer given here (the metrics).
    init(path: String, body: @escaping @Sendable () -> [UInt8], answered: @escaping @Sendable () -> Void) {
        self.path = path
        self.body = body
        self.answered = answered
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if waiting == 0, head.method == .get, head.path == path, !Self.asksToClose(head) {
                answering = true
                return
            }
            waiting += 1
        case .body:
            if answering { return }
        case .end:
            if answering {
                answering = false
                answer(context)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), waiting > 0 { waiting -= 1 }
        context.write(data, promise: promise)
    }

    private func answer(_ context: ChannelHandlerContext) {
        let bytes = body()
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let head = HTTPResponse(status: .ok, headerFields: [.contentType: "application/json", .contentLength: String(bytes.count)])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        answered()
    }

    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields[values: .connection].contains { $0.lowercased().contains("close") }
    }
}
