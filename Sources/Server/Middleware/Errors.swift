import Hummingbird
import Logging
import NIOCore
import PlanterHost

/// Turns every error into the JSON error answer, so nothing reaches Hummingbird's default
/// (empty 500, plain 404).
struct ErrorMiddleware: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = PlanterRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as ServiceError {
            return APIError(error).response
        } catch is NIOTooManyBytesError {
            return APIError(status: .contentTooLarge, code: "payloadTooLarge", message: "the request body is too large").response
        } catch let error as HTTPError {
            return APIError(status: error.status, code: "http\(error.status.code)", message: error.body ?? error.status.reasonPhrase).response
        } catch is CancellationError {
            return APIError.unavailable("the request was cancelled (shutting down)").response
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIError.internal("internal error: \(error)").response
        }
    }
}
