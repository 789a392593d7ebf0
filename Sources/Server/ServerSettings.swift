import Foundation
import PlanterCore
import PlanterHost
import PlanterMessaging
import PlanterRedis

/// Everything `planter serve` is told by flags and the environment.
public struct ServerSettings: Sendable {
    public var host = "0.0.0.0"
    public var port = 3030
    /// `PLANTER_PREFIX`: every endpoint is served under it (`/api/v1`); empty for none.
    public var prefix = ""
    /// `PLANTER_ROOT`: holds `state/state.json`.
    public var root = "/etc/planter"
    public var configPath: String?
    public var parallel: Int?
    /// `PLANTER_TOKEN`: when set, every endpoint but /health and /ready needs `Authorization: Bearer <token>`.
    public var token: String?
    /// `PLANTER_TOKENS_FILE`: a YAML file of tokens, each with a name, namespaces and a role.
    public var tokensFile: String?
    /// `PLANTER_MAX_BODY`: request bodies larger than this are refused with 413.
    public var maxBodyBytes = 8 << 20
    /// `PLANTER_SYNC_FROM`: another Planter's base URL to take the plan from.
    public var syncFrom: String?
    /// `PLANTER_SYNC_INTERVAL`: poll the remote this often (seconds); nil: only at start.
    public var syncInterval: Duration?
    /// Token sent to the remote: `PLANTER_SYNC_TOKEN`, else `PLANTER_TOKEN`.
    public var syncToken: String?
    /// How long a shutdown lets a running plan finish before cancelling it (`PLANTER_SHUTDOWN_GRACE`, seconds).
    public var shutdownGrace: Duration = .seconds(10)
    /// `REDIS_URL`: the history's store of record, shared with the other Planters on it (nil: embedded only).
    public var redisURL: RedisURL?
    /// `PLANTER_LEASE_TTL` (with REDIS_URL): the Planters on one Redis take turns, one holding each namespace's lease.
    public var leaseTTL: Duration?
    /// `PLANTER_HISTORY=off`: no history store (runs and events in memory only, as before there was one).
    public var keepsHistory = true
    /// `NATS_URL` (comma-separated `nats://[user:pass@]host:port`) and `NATS_CREDS` (a credentials
    /// file): the session interface over NATS. Nil: no NATS.
    public var nats: NATSSettings?
    /// `PLANTER_NATS_PREFIX`: put before every session subject (empty: the protocol's subjects as written).
    public var natsPrefix = ""

    public init() {}

    /// Reads the environment; flags given on the command line override it afterwards.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(SettingsError)
        -> ServerSettings
    {
        var settings = ServerSettings()
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        if let port = value("PORT") {
            guard let number = Int(port), (0...65535).contains(number) else { throw SettingsError("PORT must be a port number, not \"\(port)\"") }
            settings.port = number
        }
        if let root = value("PLANTER_ROOT") { settings.root = root }
        if let prefix = value("PLANTER_PREFIX") { settings.prefix = try normalizedPrefix(prefix) }
        settings.token = value("PLANTER_TOKEN")
        settings.tokensFile = value("PLANTER_TOKENS_FILE")
        if let limit = value("PLANTER_MAX_BODY") {
            guard let bytes = Int(limit), bytes > 0 else { throw SettingsError("PLANTER_MAX_BODY must be a positive number of bytes, not \"\(limit)\"") }
            settings.maxBodyBytes = bytes
        }
        if let remote = value("PLANTER_SYNC_FROM") {
            guard remote.hasPrefix("http://") || remote.hasPrefix("https://") else {
                throw SettingsError("PLANTER_SYNC_FROM must be an http:// or https:// URL, not \"\(remote)\"")
            }
            settings.syncFrom = remote.hasSuffix("/") ? String(remote.dropLast()) : remote
        }
        // Durations as manifests write them (`30`, `30s`, `1m`), checked and at most 30 days: no conversion traps.
        if let interval = value("PLANTER_SYNC_INTERVAL") {
            guard case .success(let duration) = PlanDuration.parse(interval), duration.milliseconds > 0 else {
                throw SettingsError("PLANTER_SYNC_INTERVAL must be a duration of more than 0 and at most 30 days (seconds, or 30s, 1m), not \"\(interval)\"")
            }
            settings.syncInterval = duration.duration
        }
        settings.syncToken = value("PLANTER_SYNC_TOKEN") ?? settings.token
        if let grace = value("PLANTER_SHUTDOWN_GRACE") {
            guard case .success(let duration) = PlanDuration.parse(grace) else {
                throw SettingsError("PLANTER_SHUTDOWN_GRACE must be a duration from 0 to 30 days (seconds, or 30s, 1m), not \"\(grace)\"")
            }
            settings.shutdownGrace = duration.duration
        }
        if let text = value("REDIS_URL") {
            do { settings.redisURL = try RedisURL.parse(text) } catch { throw SettingsError(error.description) }
        }
        if let history = value("PLANTER_HISTORY") {
            guard ["on", "off"].contains(history) else { throw SettingsError("PLANTER_HISTORY must be on or off, not \"\(history)\"") }
            settings.keepsHistory = history == "on"
            if !settings.keepsHistory, settings.redisURL != nil {
                throw SettingsError("PLANTER_HISTORY=off and REDIS_URL exclude each other: Redis holds the history")
            }
        }
        if let ttl = value("PLANTER_LEASE_TTL") {
            guard case .success(let duration) = PlanDuration.parse(ttl), duration.milliseconds >= 1000 else {
                throw SettingsError("PLANTER_LEASE_TTL must be a duration of at least 1 second and at most 30 days (seconds, or 10s, 1m), not \"\(ttl)\"")
            }
            guard settings.redisURL != nil else { throw SettingsError("PLANTER_LEASE_TTL needs REDIS_URL: the lease lives in Redis") }
            settings.leaseTTL = duration.duration
        }
        if let url = value("NATS_URL") {
            switch NATSSettings.parseServers(url) {
            case .success(let servers): settings.nats = NATSSettings(servers: servers, credentialsFile: value("NATS_CREDS"), name: "planter serve")
            case .failure(let error): throw SettingsError("NATS_URL: \(error.text)")
            }
        }
        if let prefix = value("PLANTER_NATS_PREFIX") {
            if let problem = SessionSubjects.prefixProblem(prefix) { throw SettingsError(problem) }
            settings.natsPrefix = prefix
        }
        return settings
    }

    /// `api/v1/` → `/api/v1`; `/` → no prefix.
    public static func normalizedPrefix(_ text: String) throws(SettingsError) -> String {
        var prefix = text
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if prefix.isEmpty { return "" }
        if !prefix.hasPrefix("/") { prefix = "/" + prefix }
        guard !prefix.contains("?"), !prefix.contains("#"), !prefix.contains(" ") else {
            throw SettingsError("PLANTER_PREFIX must be a plain path such as /api/v1, not \"\(text)\"")
        }
        return prefix
    }

    /// Whether the server answers beyond this machine.
    public var listensBeyondLoopback: Bool {
        !(host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127."))
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
