import Foundation
import Hummingbird

typealias RouteHandler = @Sendable (Request, PlanterRequestContext) async throws -> Response

/// One method on one path pattern.
struct Route: Sendable {
    /// Whether the route acts on the request's namespace or on the whole server.
    enum Scope: Sendable { case namespace, server }

    let method: HTTPRequest.Method
    let pattern: String
    let patternIndex: Int
    let isPublic: Bool
    let scope: Scope
    /// The least role a token needs for it.
    let role: Role
    let handler: RouteHandler
}

/// The API's routes: static paths by dictionary lookup, the few `:id` patterns by segment.
/// It knows every path's methods, so a wrong method gets 405 with `Allow`, and an unknown
/// path a JSON 404, under the optional prefix. Every route is also served under
/// `/namespaces/<name>` (`locate` splits that off).
struct RouteTable: Sendable {
    static let unmatchedIndex = 0
    private struct Entry: Sendable {
        var patternIndex: Int
        var routes: [Route] = []
        var allow: String { routes.map(\.method.rawValue).joined(separator: ", ") }
    }

    private(set) var patterns: [String] = ["unmatched"]
    private var exact: [Substring: Entry] = [:]
    /// Patterns with one `:id` segment, split: `["runs", ":", "cancel"]`.
    private var parameterized: [(segments: [Substring], entry: Entry)] = []
    let prefix: String

    init(prefix: String) { self.prefix = prefix }

    /// `role` defaults to `read` for GET, `write` for the rest.
    mutating func add(_ method: HTTPRequest.Method, _ pattern: String, isPublic: Bool = false, scope: Route.Scope = .namespace,
                      role: Role? = nil, _ handler: @escaping RouteHandler) {
        let role = role ?? (method == .get ? .read : .write)
        func route(_ patternIndex: Int) -> Route {
            Route(method: method, pattern: pattern, patternIndex: patternIndex, isPublic: isPublic, scope: scope, role: role, handler: handler)
        }
        if pattern.contains(":") {
            let segments = pattern.split(separator: "/").map { $0.hasPrefix(":") ? Substring(":") : $0 }
            if let index = parameterized.firstIndex(where: { $0.segments == segments }) {
                let patternIndex = parameterized[index].entry.patternIndex
                parameterized[index].entry.routes.append(route(patternIndex))
            } else {
                patterns.append(pattern)
                var entry = Entry(patternIndex: patterns.count - 1)
                entry.routes.append(route(entry.patternIndex))
                parameterized.append((segments, entry))
            }
        } else {
            let key = Substring(pattern)
            if exact[key] == nil {
                patterns.append(pattern)
                exact[key] = Entry(patternIndex: patterns.count - 1)
            }
            let patternIndex = exact[key]!.patternIndex
            exact[key]!.routes.append(route(patternIndex))
        }
    }

    /// The path under the prefix, split into the namespace it names (`/namespaces/<name>/plan`:
    /// `<name>`, `/plan`; nil for a root route) and the route's path. Nil: outside the prefix.
    func locate(_ rawPath: String) -> (namespace: Substring?, path: Substring)? {
        var path = Substring(rawPath)
        if !prefix.isEmpty {
            guard path.hasPrefix(prefix) else { return nil }
            path = path.dropFirst(prefix.utf8.count)
            if path.isEmpty { return nil }
            guard path.first == "/" else { return nil }
        }
        let head = "/namespaces/"
        guard path.hasPrefix(head) else { return (nil, path) }
        let rest = path.dropFirst(head.utf8.count)
        guard let slash = rest.firstIndex(of: "/") else { return (rest, "") }
        return (rest[..<slash], rest[slash...])
    }

    func resolve(method: HTTPRequest.Method, path routePath: Substring) -> RouteMatch {
        var path = routePath
        guard path.first == "/" else { return .notFound }
        if path.count > 1 && path.last == "/" { path = path.dropLast() }
        if let entry = exact[path] {
            return Self.pick(entry, method: method, parameter: nil)
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        candidates: for (pattern, entry) in parameterized where pattern.count == segments.count {
            var parameter: Substring?
            for (expected, actual) in zip(pattern, segments) {
                if expected == ":" {
                    guard !actual.isEmpty else { continue candidates }
                    parameter = actual
                } else if expected != actual {
                    continue candidates
                }
            }
            let decoded = parameter.map { String($0).removingPercentEncoding ?? String($0) }
            return Self.pick(entry, method: method, parameter: decoded)
        }
        return .notFound
    }

    private static func pick(_ entry: Entry, method: HTTPRequest.Method, parameter: String?) -> RouteMatch {
        for route in entry.routes where route.method == method {
            return .found(route, parameter: parameter)
        }
        return .wrongMethod(pattern: entry.patternIndex, allow: entry.allow)
    }
}
