import Hummingbird
import Logging
import NIOCore
import PlanterHost

/// Turns every error into the JSON error answer, so nothing reaches Hummingbird's default
/// (empty 500, plain 404). Every error answer carries a request id (`X-Request-Id` and
/// `error.requestId`). An error the API does not know is a 500 with a generic message: its
/// text may hold paths or internals, so it goes to the log under the request id, never to
/// the client.
struct ErrorMiddleware: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = PlanterRequestContext

    let requestIDs: RequestIDs

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return answer(for: error, request: request, logger: context.logger).response
        }
    }

    func answer(for error: any Error, request: Request, logger: Logger) -> APIError {
        var answer: APIError
        switch error {
        case let error as APIError:
            answer = error
        case let error as ServiceError:
            answer = APIError(error)
        case is NIOTooManyBytesError:
            answer = APIError(status: .contentTooLarge, code: "payloadTooLarge", message: "the request body is too large")
        case let error as HTTPError where error.status.code < 500:
            answer = APIError(status: error.status, code: Self.code(of: error.status), message: error.body ?? error.status.reasonPhrase)
        case is CancellationError:
            answer = APIError.unavailable("the request was cancelled (shutting down)")
        default:
            let requestId = requestIDs.id(of: request)
            logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)",
                                                        "method": "\(request.method.rawValue)", "requestId": "\(requestId)"])
            answer = APIError.internal("internal error; the server log has the detail under request id \(requestId)")
            answer.requestId = requestId
            return answer
        }
        answer.requestId = requestIDs.id(of: request)
        return answer
    }

    /// Hummingbird's own client errors, as the codes the API documents.
    static func code(of status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: return "unauthorized"
        case 404: return "notFound"
        case 405: return "methodNotAllowed"
        case 413: return "payloadTooLarge"
        case 415: return "unsupportedMediaType"
        case 409: return "conflict"
        case 400: return "malformed"
        default: return "invalid"
        }
    }
}
