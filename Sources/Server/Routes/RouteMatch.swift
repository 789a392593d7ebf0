/// What the route table made of a request's method and path.
enum RouteMatch: Sendable {
    /// `parameter` is the `:id` segment, percent-decoded.
    case found(Route, parameter: String?)
    /// The path is known but not for this method.
    case wrongMethod(pattern: Int, allow: String)
    case notFound

    /// Index of the path pattern for metrics (`RouteTable.unmatched` for unknown paths).
    var patternIndex: Int {
        switch self {
        case .found(let route, _): return route.patternIndex
        case .wrongMethod(let pattern, _): return pattern
        case .notFound: return RouteTable.unmatchedIndex
        }
    }

    /// /health and /ready answer without a token.
    var isPublic: Bool {
        if case .found(let route, _) = self { return route.isPublic }
        return false
    }
}
