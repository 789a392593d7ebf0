import Hummingbird
import PlanterDeployment

/// The application's responder: matches the route (and the namespace the path names), then
/// runs the middleware chain (metrics → errors → auth) around the route's handler.
struct Dispatcher<Chain: MiddlewareProtocol>: HTTPResponder
where Chain.Input == Request, Chain.Output == Response, Chain.Context == PlanterRequestContext {
    let table: RouteTable
    let chain: Chain

    func respond(to request: Request, context: PlanterRequestContext) async throws -> Response {
        var context = context
        if let (namespace, path) = table.locate(request.uri.path) {
            if let namespace {
                context.namespace = String(namespace)
                context.namespaceProblem = NamespaceName.problem(namespace)
            }
            context.route = table.resolve(method: request.method, path: path)
        }
        return try await chain.handle(request, context: context) { request, context in
            if let problem = context.namespaceProblem {
                throw APIError(status: .badRequest, code: "invalid", message: problem,
                               details: [APIError.Detail(path: "namespace", message: problem)])
            }
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
