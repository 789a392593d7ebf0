import Hummingbird

/// The application's responder: matches the route, then runs the middleware chain
/// (metrics → errors → auth) around the route's handler.
struct Dispatcher<Chain: MiddlewareProtocol>: HTTPResponder
where Chain.Input == Request, Chain.Output == Response, Chain.Context == PlanterRequestContext {
    let table: RouteTable
    let chain: Chain

    func respond(to request: Request, context: PlanterRequestContext) async throws -> Response {
        var context = context
        context.route = table.resolve(method: request.method, path: request.uri.path)
        return try await chain.handle(request, context: context) { request, context in
            switch context.route {
            case .found(let route, _):
                return try await route.handler(request, context)
            case .wrongMethod(_, let allow):
                throw APIError.methodNotAllowed(request.method, path: request.uri.path, allow: allow)
            case .notFound:
                throw APIError.notFound("no route \(request.method.rawValue) \(request.uri.path)")
            }
        }
    }
}
