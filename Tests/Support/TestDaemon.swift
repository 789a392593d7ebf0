import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A service the tests need running for real (nats-server, redis-server): started on a free
/// loopback port in its own process group, its output in a log file, stopped (and restarted on
/// the same port, to test reconnects) by the test, killed at the latest when the object goes.
public final class TestDaemon: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public let program: String
    public let port: Int
    public let logPath: String
    private let arguments: [String]
    private var pid: pid_t = 0

    /// `arguments(port)` gives the command line for a port; `program` is looked up on PATH
    /// (and /usr/sbin, /usr/bin, where Debian puts servers).
    public init(_ program: String, logPath: String, arguments: @escaping (Int) -> [String]) throws {
        guard let path = findExecutable(program) ?? ["/usr/sbin/", "/usr/bin/"].map({ $0 + program }).first(where: { access($0, X_OK) == 0 })
        else { throw Failure(description: "\(program) is not installed (make test installs it)") }
        self.program = path
        port = try Self.freePort()
        self.logPath = logPath
        self.arguments = arguments(port)
        try start()
    }

    /// Starts it (again) and waits until the port accepts connections.
    public func start(timeout: Double = 10) throws {
        do {
            pid = try spawnProcessGroup([program] + arguments, environment: ProcessInfo.processInfo.environment, logPath: logPath)
        } catch {
            throw Failure(description: error.description)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if Self.accepts(port) { return }
            usleep(20_000)
        }
        throw Failure(description: "\(program) did not listen on \(port) within \(timeout)s: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    /// Stops it with `signal` and waits for the process to end.
    public func stop(signal: Int32 = SIGTERM) {
        guard pid > 0 else { return }
        kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    deinit { stop(signal: SIGKILL) }

    /// A loopback port nobody listens on now (the kernel's pick).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(socket, pointer, length) == 0 else { return -1 }
                return getsockname(socket, pointer, &length)
            }
        }
        guard bound == 0 else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

extension TestDaemon {
    /// A nats-server with JetStream, its store in `directory`; with `auth`, every client must give
    /// that user and password (`nats://user:password@host:port`).
    public static func nats(directory: String, auth: (user: String, password: String)? = nil) throws -> TestDaemon {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try TestDaemon("nats-server", logPath: directory + "/nats-server.log") { port in
            ["-a", "127.0.0.1", "-p", "\(port)", "-js", "-sd", directory + "/jetstream"]
                + (auth.map { ["--user", $0.user, "--pass", $0.password] } ?? [])
        }
    }

    public var natsURL: String { "nats://127.0.0.1:\(port)" }
}
