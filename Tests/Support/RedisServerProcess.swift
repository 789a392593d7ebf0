#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` (Debian's) on a free loopback port (a TestDaemon), with nothing saved
/// to disk (`--save '' --appendonly no`): `stop()` is a crash (SIGKILL, nothing kept) and
/// `start()` brings it back empty on the same port.
public final class RedisServerProcess: @unchecked Sendable {
    public let password: String?
    private let directory: TempDir
    private let daemon: TestDaemon

    public var port: Int { daemon.port }
    public var logPath: String { daemon.logPath }

    /// `redis://[:password@]127.0.0.1:<port>[/db]`.
    public func url(database: Int = 0) -> String {
        "redis://" + (password.map { ":\($0)@" } ?? "") + "127.0.0.1:\(port)" + (database == 0 ? "" : "/\(database)")
    }

    /// `started: false`: Redis "down at start" (the port reserved); `start()` starts it later.
    public init(password: String? = nil, arguments: [String] = [], started: Bool = true) throws {
        let directory = try TempDir()
        self.directory = directory
        self.password = password
        let extra = arguments + (password.map { ["--requirepass", $0] } ?? [])
        daemon = try TestDaemon("redis-server", logPath: directory.path + "/redis.log") { port in
            ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path] + extra
        }
        // A TestDaemon starts at once: "down at start" kills it again (the port stays reserved for it).
        if !started { stop() }
    }

    public func start() throws { try daemon.start() }

    public func stop() { daemon.stop(signal: SIGKILL) }

    public func restart() throws {
        stop()
        try start()
    }
}
