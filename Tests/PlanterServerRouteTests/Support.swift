import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PlanterHost
import PlanterJSON
import PlanterTestSupport
import Testing

@testable import PlanterServer

// In-process tests: the application `planter serve` builds (routes, middleware, the real
// PlanterService over a temporary --root), driven through HummingbirdTesting's router
// framework, with no socket, no signal handlers and no service lifecycle. Signals, restarts
// and shutdown stay with the process-level tests in PlanterServerTests.

/// Builds the server's application with `configure` applied to settings rooted in a fresh
/// temporary folder, and runs `body` against it in-process.
func withApplication<Value: Sendable>(_ configure: (inout ServerSettings) -> Void = { _ in },
                                      _ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
    let root = try TempDir()
    var settings = ServerSettings()
    settings.host = "127.0.0.1"
    settings.port = 0
    settings.root = root.path
    configure(&settings)
    // Quiet: the tests read answers, not logs.
    let logger = Logger(label: "planter-route-tests") { _ in SwiftLogNoOpLogHandler() }
    let server = try await PlanterServer(settings: settings, logger: logger)
    do {
        let value = try await server.application().test(.router, body)
        _ = await server.namespaces.shutdown()
        return value
    } catch {
        _ = await server.namespaces.shutdown()
        throw error
    }
}

/// One answer, with the JSON error body read the way clients read it.
struct Answer: CustomStringConvertible, Sendable {
    var status: Int
    var headers: HTTPFields
    var body: [UInt8]

    init(_ response: TestResponse) {
        status = Int(response.status.code)
        headers = response.headers
        body = Array(response.body.readableBytesView)
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSON {
        do {
            return try JSONParser.parse(body)
        } catch {
            Issue.record("not JSON (\(error)): \(self)", sourceLocation: sourceLocation)
            throw error
        }
    }

    func header(_ name: HTTPField.Name) -> String? { headers[name] }

    var error: JSON? { (try? JSONParser.parse(body))?["error"] }
    var errorCode: String? { error?["code"]?.stringValue }
    var errorMessage: String { error?["message"]?.stringValue ?? "" }
    /// The JSON pointers of `error.details`.
    var errorPaths: [String] { (error?["details"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue } }

    var description: String { "HTTP \(status) \(headers[.contentType] ?? "") \(text.prefix(2000))" }
}

extension TestClientProtocol {
    /// One request; `contentType` is sent only with a body.
    func send(_ method: HTTPRequest.Method, _ path: String, body: String? = nil, contentType: String? = "application/json",
              headers: HTTPFields = [:]) async throws -> Answer {
        var fields = headers
        if body != nil, let contentType { fields[.contentType] = contentType }
        return try await execute(uri: path, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) }) { Answer($0) }
    }
}

/// Checks the shape every error answer has: the status, JSON, `error.code`, a message and a
/// `details` list.
@discardableResult
func expectError(_ reply: Answer, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) -> Answer {
    #expect(reply.status == status, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.header(.contentType) == "application/json", "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.errorCode == code, "\(reply)", sourceLocation: sourceLocation)
    #expect(!reply.errorMessage.isEmpty, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.error?["details"]?.arrayValue != nil, "details is always there: \(reply)", sourceLocation: sourceLocation)
    return reply
}

/// A phase for the noop executor (built in: nothing runs), as manifest JSON text.
func noopPhase(_ id: String) -> String {
    #"{"kind": "Phase", "id": "\#(id)", "spec": {"selector": {"matchLabels": {"executor": "noop"}}}}"#
}
