import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import PlanterJSON

/// GET / (a redirect), GET /ui/ and its files, GET /graph.svg (GraphRoute: a plan laid out by Graphviz).
/// The page and its files are public, like /health; the page then calls the API with the token
/// the user gives it, and /graph.svg needs a token like every other read.
enum DashboardRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        let assets = DashboardAssets.load()
        if let problem = assets.problem { environment.logger.warning("\(problem)") }
        let layouts = GraphLayouts(settings: .fromEnvironment(ProcessInfo.processInfo.environment))

        table.add(.get, "/", isPublic: true, scope: .server) { request, _ in
            redirect(to: directory(request.uri.path) + "ui/")
        }

        // /ui answers with a redirect to /ui/, so the page's relative links resolve under it.
        table.add(.get, "/ui", isPublic: true, scope: .server) { request, _ in
            guard request.uri.path.hasSuffix("/") else { return redirect(to: request.uri.path + "/") }
            return try file("index.html", assets)
        }

        table.add(.get, "/ui/:id", isPublic: true, scope: .server) { _, context in
            try file(context.parameter, assets)
        }

        GraphRoute.register(in: &table, environment, layouts: layouts)
    }

    /// The path up to and including its last `/`.
    static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "/" }
        return String(path[...slash])
    }

    static func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .contentLength: "0"])
    }

    static let pageHeaders: HTTPFields = [
        .cacheControl: "no-cache",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        // Everything the page uses is its own: no CDN, no inline script.
        HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
    ]

    static func file(_ name: String, _ assets: DashboardAssets) throws(APIError) -> Response {
        guard let asset = assets.files[name] else {
            throw APIError.notFound(assets.problem ?? "the dashboard has no file \"\(name)\"")
        }
        var headers = pageHeaders
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.bytes))
    }
}
