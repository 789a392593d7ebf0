import Hummingbird

/// With `PLANTER_TOKEN` or `PLANTER_TOKENS_FILE`, every endpoint but /health and /ready needs
/// `Authorization: Bearer <token>`, compared in constant time (401 without a known token). A
/// token used on a namespace it does not have, or on a route its role does not allow, is 403.
/// The token's name becomes the request's caller (who triggered the runs it starts).
struct AuthMiddleware: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = PlanterRequestContext

    /// Nil: no access control.
    private let tokens: AccessTokens?

    init(tokens: AccessTokens?) { self.tokens = tokens }

    /// `PLANTER_TOKEN` alone.
    init(token: String?) { self.init(tokens: token.map { AccessTokens(grants: [AccessTokens.single($0)]) }) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let tokens, !context.route.isPublic else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("this Planter needs Authorization: Bearer <token>")
        }
        // The scheme is case-insensitive (RFC 7235 §2.1): `bearer` is `Bearer`; the token is compared exactly.
        var given = Array(header.utf8)
        if given.count >= 7, String(decoding: given[0..<7], as: UTF8.self).lowercased() == "bearer " {
            given.replaceSubrange(0..<7, with: Array("Bearer ".utf8))
        }
        guard let grant = tokens.grant(for: given) else {
            throw APIError.unauthorized("the bearer token is wrong")
        }
        try Self.check(grant, route: context.route, namespace: context.namespace, method: request.method, path: request.uri.path)
        var context = context
        context.caller = grant.name
        context.grant = grant
        return try await next(request, context)
    }

    /// 403 unless the grant covers the namespace (for a route of a namespace) and its role the route.
    static func check(_ grant: TokenGrant, route match: RouteMatch, namespace: String, method: HTTPRequest.Method, path: String)
        throws(APIError)
    {
        guard case .found(let route, _) = match else { return }
        if route.scope == .namespace && !grant.covers(namespace) {
            throw APIError.forbidden("the token \"\(grant.name)\" has no access to the namespace \"\(namespace)\"")
        }
        if grant.role < route.role {
            throw APIError.forbidden("the token \"\(grant.name)\" has the role \(grant.role); \(method.rawValue) \(path) needs \(route.role)")
        }
        if route.scope == .server && route.role == .admin && !grant.everyNamespace {
            throw APIError.forbidden("\(method.rawValue) \(path) acts on every namespace: it needs an admin token of every namespace (\"*\")")
        }
    }

    /// Compares every byte whatever the first difference; the length shows, the content does not.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let count = max(a.count, b.count)
        for index in 0..<count {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}
