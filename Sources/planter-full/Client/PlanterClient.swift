import ArgumentParser
import PlanterCommands
import AsyncHTTPClient
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PlanterCore
import PlanterJSON
import Synchronization

/// The HTTP side of the client commands (AsyncHTTPClient, already linked for the server). Each
/// failure is said once, on standard error, and becomes its exit code: 3 the server cannot be
/// reached, 4 a missing or refused token, 5 no such namespace, run or phase, 2 an invalid plan,
/// 1 anything else the server refused (a run in progress, say).
final class PlanterClient: Sendable {
    let endpoint: Endpoint
    /// -o json|yaml: a refusal is also printed as the server's error document on standard output.
    let format: OutputFormat
    private let http: HTTPClient
    /// Largest answer read whole; the event stream is read an event at a time.
    static let maximumBody = 256 << 20
    static let maximumEvent = 16 << 20

    private init(endpoint: Endpoint, format: OutputFormat) {
        self.endpoint = endpoint
        self.format = format
        var configuration = HTTPClient.Configuration()
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5))
        configuration.redirectConfiguration = .disallow
        // A command is one attempt: a refused connection is exit 3 at once, not retried until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Runs `body` against the endpoint from a synchronous command (the root command stays
    /// synchronous, so `planter run` starts as it did), and shuts the client down after.
    static func session<T: Sendable>(_ endpoint: Endpoint, format: OutputFormat,
                                     _ body: @escaping @Sendable (PlanterClient) async throws(ExitCode) -> T) throws(ExitCode) -> T {
        let outcome = Mutex<Result<T, ExitCode>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let client = PlanterClient(endpoint: endpoint, format: format)
            let result: Result<T, ExitCode>
            do throws(ExitCode) { result = .success(try await body(client)) } catch { result = .failure(error) }
            try? await client.http.shutdown()
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0 ?? .failure(ExitStatus.failed) }.get()
    }

    // MARK: Requests

    /// A request whose answer is read whole and parsed; a refusal throws its exit code.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: [UInt8]? = nil,
              contentType: String = "application/json", serverRoute: Bool = false, timeout: Int64 = 120) async throws(ExitCode) -> JSON {
        try await send(method, url: endpoint.url(path, query: query, serverRoute: serverRoute), body: body, contentType: contentType,
                       timeout: timeout)
    }

    /// The same, to a URL given whole (`planter health --url`).
    func send(_ method: HTTPMethod, url: String, body: [UInt8]? = nil, contentType: String = "application/json",
              timeout: Int64 = 120) async throws(ExitCode) -> JSON {
        let response = try await execute(method, url, body: body, contentType: contentType, deadline: .now() + .seconds(timeout))
        let bytes: [UInt8]
        do {
            bytes = Array(buffer: try await response.body.collect(upTo: Self.maximumBody))
        } catch {
            throw fail(.unreachable, "the answer of \(method.rawValue) \(url) broke off: \(Self.describe(error))")
        }
        let json = try? JSONParser.parse(bytes)
        guard (200..<300).contains(Int(response.status.code)) else { throw refused(response.status, json, bytes, url: url) }
        guard let json else { throw fail(.failed, "\(method.rawValue) \(url) answered \(response.status.code) with a body that is not JSON") }
        return json
    }

    /// GET `path` as Server-Sent Events (`data: <event>` blocks), handing each event's JSON to
    /// `each` until the server ends the stream.
    func events(_ path: String, query: [(String, String?)], _ each: (JSON) -> Void) async throws(ExitCode) {
        let url = endpoint.url(path, query: query)
        let response = try await execute(.GET, url, body: nil, contentType: "application/json", deadline: .distantFuture,
                                         accept: "text/event-stream")
        guard response.status == .ok else {
            let bytes = (try? await response.body.collect(upTo: Self.maximumBody)).map { Array(buffer: $0) } ?? []
            throw refused(response.status, try? JSONParser.parse(bytes), bytes, url: url)
        }
        // Blocks end at a blank line; each chunk is scanned once from where the last scan stopped, and
        // what it completed is dropped at once (a backlog of 100,000 events arrives in many chunks).
        var pending: [UInt8] = []
        var scanned = 1
        do {
            for try await chunk in response.body {
                pending += chunk.readableBytesView
                var start = 0
                var index = scanned
                while index < pending.count {
                    if pending[index] == 0x0A && pending[index - 1] == 0x0A {
                        if let json = Self.event(in: pending[start..<(index - 1)]) { each(json) }
                        start = index + 1
                        index = start + 1
                    } else {
                        index += 1
                    }
                }
                pending.removeFirst(start)
                scanned = max(1, index - start)
                if pending.count > Self.maximumEvent {
                    throw fail(.failed, "an event of \(url) is larger than \(Self.maximumEvent) bytes")
                }
            }
        } catch let code as ExitCode {
            throw code
        } catch {
            throw fail(.unreachable, "the event stream of \(url) broke off: \(Self.describe(error))")
        }
    }

    /// The JSON of a block's `data:` lines (joined by newlines, as SSE says); nil for a comment or keep-alive.
    private static func event(in block: ArraySlice<UInt8>) -> JSON? {
        var data: [UInt8] = []
        for line in block.split(separator: 0x0A, omittingEmptySubsequences: true) {
            guard line.starts(with: Array("data:".utf8)) else { continue }
            var payload = line.dropFirst(5)
            if payload.first == 0x20 { payload = payload.dropFirst() }
            if !data.isEmpty { data.append(0x0A) }
            data += payload
        }
        return data.isEmpty ? nil : try? JSONParser.parse(data)
    }

    private func execute(_ method: HTTPMethod, _ url: String, body: [UInt8]?, contentType: String, deadline: NIODeadline,
                         accept: String = "application/json") async throws(ExitCode) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "planter/\(PlanterVersion.current)")
        if let token = endpoint.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await http.execute(request, deadline: deadline)
        } catch {
            throw fail(.unreachable, "cannot reach Planter at \(endpoint.server): \(Self.describe(error)) "
                + "(is planter serve running there? set PLANTER_SERVER or --server)")
        }
    }

    // MARK: Failures

    enum Failure { case failed, invalid, unreachable, unauthorized, notFound }

    /// Says `message` on one line and returns the exit code to throw.
    func fail(_ failure: Failure, _ message: String) -> ExitCode {
        StandardError.write("planter \(endpoint.command): \(message)\n")
        switch failure {
        case .failed: return ExitStatus.failed
        case .invalid: return ExitStatus.invalid
        case .unreachable: return ExitStatus.unreachable
        case .unauthorized: return ExitStatus.unauthorized
        case .notFound: return ExitStatus.notFound
        }
    }

    /// An error answer (`{"error": {"code", "message", "details"}}`) as one line (an invalid plan:
    /// a line per problem) and its exit code.
    private func refused(_ status: HTTPResponseStatus, _ json: JSON?, _ bytes: [UInt8], url: String) -> ExitCode {
        let error = json?["error"]
        // No Planter error document: another server (or a path without the Planter's prefix) answered.
        let message = error?["message"]?.stringValue
            ?? "\(url) answered \(status.code) \(status.reasonPhrase)"
            + (bytes.isEmpty ? "" : ": " + String(decoding: bytes.prefix(200), as: UTF8.self))
            + ", not a Planter error (is \(endpoint.server) a Planter, with its prefix?)"
        if format != .text, let json { StructuredOutput.write(json, format) }
        switch status.code {
        case 401:
            return fail(.unauthorized, endpoint.token == nil
                ? "the server needs a token (\(message)): set PLANTER_TOKEN or --token"
                : "the server refused the token (\(message))")
        case 403:
            return fail(.unauthorized, "the token may not do this: \(message)")
        case 404:
            // A path the server does not serve at all: most likely a prefix missing from the URL.
            let hint = message.hasPrefix("no route") ? " at \(endpoint.server) (if the server has a PLANTER_PREFIX, put it in --server)" : ""
            return fail(.notFound, message + hint)
        case 400:
            let details = error?["details"]?.arrayValue ?? []
            var lines = [message]
            for detail in details where detail["message"]?.stringValue != message {
                let severity = detail["severity"]?.stringValue ?? "error"
                lines.append("  \(severity): \(detail["path"]?.stringValue ?? ""): \(detail["message"]?.stringValue ?? "")")
            }
            return fail(.invalid, lines.joined(separator: "\n"))
        case 409:
            return fail(.failed, message + " (planter logs --follow waits for it, planter cancel stops it)")
        default:
            let id = error?["requestId"]?.stringValue.map { " (request \($0))" } ?? ""
            return fail(.failed, "\(url) answered \(status.code): \(message)\(id)")
        }
    }

    /// A transport error in a few words: the errno text when there is one.
    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return describe(first.error) }
            if let dns = connection.dnsAAAAError ?? connection.dnsAError { return "cannot resolve \(connection.host): \(dns)" }
        }
        if let client = error as? HTTPClientError {
            if client == .connectTimeout { return "no connection within 5 s" }
            if client == .deadlineExceeded { return "no answer in time" }
            if client == .remoteConnectionClosed { return "the server closed the connection" }
        }
        return String(describing: error)
    }
}
