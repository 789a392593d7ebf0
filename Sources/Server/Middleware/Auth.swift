import Hummingbird

/// With `PLANTER_TOKEN` set, every endpoint but /health and /ready needs
/// `Authorization: Bearer <token>`, compared in constant time.
struct AuthMiddleware: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = PlanterRequestContext

    /// `Bearer <token>` as bytes; nil: no access control.
    private let expected: [UInt8]?

    init(token: String?) {
        expected = token.map { Array("Bearer \($0)".utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let expected, !context.route.isPublic else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("this Planter needs Authorization: Bearer <token>")
        }
        // The scheme is case-insensitive (RFC 7235 §2.1): `bearer` is `Bearer`; the token is compared exactly.
        var given = Array(header.utf8)
        if given.count >= 7, String(decoding: given[0..<7], as: UTF8.self).lowercased() == "bearer " {
            given.replaceSubrange(0..<7, with: expected[0..<7])
        }
        guard Self.constantTimeEqual(given, expected) else {
            throw APIError.unauthorized("the bearer token is wrong")
        }
        return try await next(request, context)
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
