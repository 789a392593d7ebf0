#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` (Debian's) on a free loopback port, with nothing saved to disk
/// (`--save '' --appendonly no`), in its own process group; stopped and reaped by `stop()` or
/// when the value goes. `restart()` starts it again on the same port (its data gone).
public final class RedisServerProcess: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let password: String?
    private let directory: TempDir
    private let extra: [String]
    private var pid: pid_t = 0

    /// `redis://[:password@]127.0.0.1:<port>[/db]`.
    public func url(database: Int = 0) -> String {
        "redis://" + (password.map { ":\($0)@" } ?? "") + "127.0.0.1:\(port)" + (database == 0 ? "" : "/\(database)")
    }

    public var logPath: String { directory.path + "/redis.log" }

    /// `started: false` only reserves the port (Redis "down at start"); `start()` starts it later.
    public init(password: String? = nil, arguments: [String] = [], started: Bool = true) throws {
        guard findExecutable("redis-server") != nil else {
            throw Failure(description: "redis-server is not installed (make deps installs Debian's redis-server)")
        }
        directory = try TempDir()
        self.password = password
        extra = arguments + (password.map { ["--requirepass", $0] } ?? [])
        port = try unusedLoopbackPort()
        if started { try start() }
    }

    deinit { stop() }


    /// Starts the server and waits until it accepts connections (up to 10 s).
    public func start() throws {
        guard pid == 0 else { return }
        let argv = ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", directory.path, "--logfile", logPath] + extra
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, "redis-server", &actions, &attributes, cArguments, environ)
        guard status == 0 else { throw Failure(description: "cannot start redis-server: \(String(cString: strerror(status)))") }
        pid = child
        for _ in 0..<1000 {
            if accepts() { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw Failure(description: "redis-server exited at start (status \(status)); its log: \(logPath)")
            }
            usleep(10_000)
        }
        stop()
        throw Failure(description: "redis-server did not accept connections on port \(port) within 10 s")
    }

    /// Whether a TCP connect to the port succeeds.
    func accepts() -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// SIGKILL (a crash, not a shutdown: nothing is saved) and reap.
    public func stop() {
        guard pid != 0 else { return }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        pid = 0
    }

    public func restart() throws {
        stop()
        try start()
    }
}

/// A loopback port the kernel just gave a bound socket, released (no listen) for a server to take.
public func unusedLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw RedisServerProcess.Failure(description: "socket failed: errno \(errno)") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int32 in
            guard bind(socket, raw, length) == 0 else { return -1 }
            return getsockname(socket, raw, &length)
        }
    }
    guard bound == 0 else { throw RedisServerProcess.Failure(description: "bind/getsockname failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
