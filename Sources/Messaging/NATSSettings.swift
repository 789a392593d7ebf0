/// Where and how to connect: `NATS_URL` (comma-separated servers, `nats://[user:pass@]host[:port]`),
/// `NATS_CREDS` (a credentials file, NATS's own auth). Parsed up front, so a typo is one clear
/// line at start-up instead of a connection that never comes up.
public struct NATSSettings: Sendable, Equatable {
    public var servers: [String]
    public var credentialsFile: String?
    /// The client name the server shows (`planter serve <instance>`, `planter worker <id>`).
    public var name: String
    /// Connect timeout per server, and the longest wait between reconnect passes.
    public var connectTimeoutMs: Int64 = 2000
    public var maxReconnectWaitMs: Int64 = 8000
    public var pingIntervalMs: Int64 = 10_000
    /// The server does not deliver this connection's own messages to its subscriptions (a
    /// Planter that mirrors `.state` and listens to a runtime's `.state` hears only the runtime).
    public var noEcho = false

    public init(servers: [String], credentialsFile: String? = nil, name: String) {
        self.servers = servers
        self.credentialsFile = credentialsFile
        self.name = name
    }

    /// `NATS_URL`'s value: every server URL, checked (scheme, host, port in 1…65535).
    public static func parseServers(_ value: String) -> Result<[String], NATSError> {
        let parts = value.split(separator: ",", omittingEmptySubsequences: false).map(trimmingSpaces)
        guard parts.count <= 64 else { return .failure(NATSError("NATS_URL", message: "more than 64 servers")) }
        var servers: [String] = []
        for (index, part) in parts.enumerated() {
            if let problem = problem(part) {
                return .failure(NATSError("NATS_URL", message: "server \(index + 1) \"\(part)\": \(problem)"))
            }
            servers.append(part)
        }
        return .success(servers)
    }

    static func problem(_ url: String) -> String? {
        guard !url.isEmpty else { return "empty (NATS_URL is a comma-separated list of nats://host:port)" }
        guard url.utf8.count <= 1024 else { return "longer than 1024 bytes" }
        let schemes = ["nats://", "tls://"]
        guard let scheme = schemes.first(where: { url.hasPrefix($0) }) else {
            return "must start with nats:// (or tls://), e.g. nats://127.0.0.1:4222"
        }
        var rest = Substring(url.dropFirst(scheme.count))
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else { return "has a path; a NATS server URL is nats://host:port" }
            rest = rest[..<slash]
        }
        var host = rest
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            host = rest[..<colon]
            let port = rest[rest.index(after: colon)...]
            guard let number = Int(port), (1...65535).contains(number) else { return "port \"\(port)\" is not in 1…65535" }
        }
        guard !host.isEmpty else { return "has no host" }
        guard !host.contains(where: { $0 == " " || $0 == "," }) else { return "host \"\(host)\" is not a host name" }
        return nil
    }
}

private func trimmingSpaces(_ text: Substring) -> String {
    var slice = text
    while slice.first == " " { slice = slice.dropFirst() }
    while slice.last == " " { slice = slice.dropLast() }
    return String(slice)
}
