import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterJSON

/// Where a client command finds its Planter: `--server/--token/--namespace`, else
/// `$PLANTER_SERVER` (default http://127.0.0.1:3030), `$PLANTER_TOKEN`, `$PLANTER_NAMESPACE`.
struct ClientOptions: ParsableArguments {
    static let defaultServer = "http://127.0.0.1:3030"

    @Option(name: .long, help: "The server's URL, with its prefix if it has one (default $PLANTER_SERVER, else \(defaultServer)).")
    var server: String?

    @Option(name: .long, help: "The bearer token (default $PLANTER_TOKEN).")
    var token: String?

    @Option(name: .long, help: "The namespace (default $PLANTER_NAMESPACE, else default).")
    var namespace: String?

    @Option(name: [.customShort("o"), .long], help: "text, json or yaml")
    var output: OutputFormat = .text

    /// Whether `--server` or `$PLANTER_SERVER` names the server (`planter health` has another default).
    var namesServer: Bool {
        server != nil || ProcessInfo.processInfo.environment["PLANTER_SERVER"].map { !$0.isEmpty } == true
    }

    /// The resolved settings; a server URL that is not http(s) is exit 2, said once.
    func endpoint(command: String) throws -> Endpoint {
        let environment = ProcessInfo.processInfo.environment
        var base = server ?? environment["PLANTER_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultServer
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else {
            StandardError.write("planter \(command): the server URL \"\(base)\" is not an http:// or https:// URL\n")
            throw ExitStatus.invalid
        }
        let token = self.token ?? environment["PLANTER_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let namespace = self.namespace ?? environment["PLANTER_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 }
        return Endpoint(server: base, token: token, namespace: namespace, command: command)
    }
}

extension ClientOptions {
    /// What most client commands do: one request, its answer printed as `-o` says (`text`
    /// renders it for a terminal).
    func show(_ command: String, _ fetch: @escaping @Sendable (PlanterClient) async throws(ExitCode) -> JSON,
              text: @escaping @Sendable (JSON, Endpoint) -> String) throws {
        let endpoint = try endpoint(command: command)
        let format = output
        try PlanterClient.session(endpoint, format: format) { client throws(ExitCode) in
            let answer = try await fetch(client)
            StandardOutput.write(format == .text ? text(answer, endpoint) : StructuredOutput.render(answer, format))
        }
    }
}

/// A server, a token and a namespace: the URLs of the namespace's routes.
struct Endpoint: Sendable {
    var server: String
    var token: String?
    var namespace: String?
    /// For messages: `planter apply`.
    var command: String

    /// `<server>/namespaces/<ns><path>`, or `<server><path>` for the default namespace and the server's own routes.
    func url(_ path: String, query: [(String, String?)] = [], serverRoute: Bool = false) -> String {
        var url = server
        if !serverRoute, let namespace, namespace != "default" {
            url += "/namespaces/" + Self.escape(namespace)
        }
        url += path
        let items = query.compactMap { name, value in value.map { "\(name)=\(Self.escape($0))" } }
        if !items.isEmpty { url += "?" + items.joined(separator: "&") }
        return url
    }

    /// Percent-encodes all but unreserved characters (a path segment or a query value).
    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// How the namespace reads in messages.
    var namespaceName: String { namespace ?? "default" }
}
