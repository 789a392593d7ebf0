import Hummingbird
import NIOCore
import PlanterCore
import PlanterHost
import PlanterJSON

/// Every error answer: `{"error": {"code", "message", "details": [{"path", "message"}]}}`.
/// Thrown by handlers and middleware; the error middleware writes it. None changes state.
struct APIError: Error, Sendable {
    struct Detail: Sendable {
        var path: String
        var message: String
        var severity: Problem.Severity?
    }

    var status: HTTPResponse.Status
    var code: String
    var message: String
    var details: [Detail] = []
    var headers: HTTPFields = [:]
    /// The run a 409 is about.
    var runId: String?
    /// Set by the error middleware: also sent as `X-Request-Id`.
    var requestId: String?

    static func invalid(_ problems: [Problem], message: String? = nil) -> APIError {
        let errors = problems.filter { $0.severity == .error }.count
        let text = message ?? (errors == 1 ? "the request is invalid (1 error)" : "the request is invalid (\(errors) errors)")
        return APIError(status: .badRequest, code: "invalid", message: text,
                         details: problems.map { Detail(path: $0.path, message: $0.message, severity: $0.severity) })
    }

    /// A query parameter with a bad value.
    static func badParameter(_ name: String, _ message: String) -> APIError {
        APIError(status: .badRequest, code: "invalid", message: "query parameter \(name): \(message)",
                 details: [Detail(path: "?" + name, message: message)])
    }

    /// A body that does not parse (the message carries line and column).
    static func malformed(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "malformed", message: message, details: [Detail(path: "", message: message)])
    }

    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "notFound", message: message) }

    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allow: String) -> APIError {
        APIError(status: .methodNotAllowed, code: "methodNotAllowed", message: "\(method.rawValue) is not allowed on \(path); allowed: \(allow)",
                 headers: [.allow: allow])
    }

    static func unauthorized(_ message: String) -> APIError {
        APIError(status: .unauthorized, code: "unauthorized", message: message, headers: [.wwwAuthenticate: "Bearer"])
    }

    static func forbidden(_ message: String) -> APIError { APIError(status: .forbidden, code: "forbidden", message: message) }

    static func tooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, code: "payloadTooLarge", message: "the request body is larger than \(limit) bytes (PLANTER_MAX_BODY)")
    }

    static func unsupportedMediaType(_ got: String?) -> APIError {
        let accepted = "application/vnd.phase-manifest+json, application/json, application/yaml"
        let text = got.map { "content type \"\($0)\" is not supported; send \(accepted)" } ?? "the request has no Content-Type; send \(accepted)"
        return APIError(status: .unsupportedMediaType, code: "unsupportedMediaType", message: text, headers: [.accept: accepted])
    }

    static func conflict(_ message: String, runId: String?) -> APIError {
        APIError(status: .conflict, code: "conflict", message: message, runId: runId)
    }

    static func unavailable(_ message: String) -> APIError {
        APIError(status: .serviceUnavailable, code: "unavailable", message: message)
    }

    static func `internal`(_ message: String) -> APIError {
        APIError(status: .internalServerError, code: "internal", message: message)
    }

    init(status: HTTPResponse.Status, code: String, message: String, details: [Detail] = [], headers: HTTPFields = [:],
         runId: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.runId = runId
    }

    init(_ error: ServiceError) {
        switch error {
        case .invalid(let problems): self = .invalid(problems)
        case .conflict(let message, let runId): self = .conflict(message, runId: runId)
        case .notFound(let message): self = .notFound(message)
        case .unavailable(let message): self = .unavailable(message)
        }
    }

    var response: Response {
        var writer = JSONWriter(capacity: 128 + message.utf8.count + details.count * 96)
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.field("code", code)
        writer.field("message", message)
        if let runId { writer.field("runId", runId) }
        if let requestId { writer.field("requestId", requestId) }
        writer.key("details")
        writer.bytes.append(UInt8(ascii: "["))
        for (index, detail) in details.enumerated() {
            if index > 0 { writer.comma() }
            writer.beginObject()
            writer.field("path", detail.path)
            writer.field("message", detail.message)
            if let severity = detail.severity { writer.field("severity", severity.rawValue) }
            writer.endObject()
        }
        writer.bytes.append(UInt8(ascii: "]"))
        writer.endObject()
        writer.endObject()
        var response = Reply.bytes(writer.bytes, status: status)
        for field in headers { response.headers.append(field) }
        if let requestId { response.headers[RequestIDs.header] = requestId }
        return response
    }
}
