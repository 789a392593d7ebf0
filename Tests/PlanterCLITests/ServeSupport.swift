import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `planter serve` for the client commands' tests: the built binary on a free loopback
/// port (`--port 0`, read back from its "listening on" line), a temporary PLANTER_ROOT and a
/// token. Stopped (SIGTERM, then SIGKILL) and its root removed when the test lets go of it.
final class Served: @unchecked Sendable {
    static let token = "cli-test-token-7c1e"
    let root: Scratch
    let port: Int
    private let process: Process
    private let logPath: String

    var url: String { "http://127.0.0.1:\(port)" }

    /// The environment a client command needs to reach this server.
    var client: [String: String] { ["PLANTER_SERVER": url, "PLANTER_TOKEN": Self.token, "PLANTER_NAMESPACE": "", "PLANTER_PROGRESS": ""] }

    init(token: String? = Served.token, environment extra: [String: String] = [:], timeout: Double = 60) async throws {
        root = try Scratch()
        logPath = root.path("serve.log")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PLANTER_") || key == "PORT" || key == "LOG_LEVEL" { environment[key] = nil }
        if let token { environment["PLANTER_TOKEN"] = token }
        environment["PLANTER_SHUTDOWN_GRACE"] = "2"
        for (key, value) in extra { environment[key] = value }
        process = Process()
        process.executableURL = try CLI.planter
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--root", root.path("root")]
        process.environment = environment
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? logHandle.close()
        let deadline = Date().addingTimeInterval(timeout)
        var found: Int?
        while Date() < deadline {
            if let port = Self.listeningPort(in: Self.log(from: logPath)) { found = port; break }
            if !process.isRunning { break }
            try await Task.sleep(nanoseconds: 15_000_000)
        }
        guard let found else {
            let text = Self.log(from: logPath)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw TestFailure("planter serve did not start listening:\n\(text)")
        }
        port = found
    }

    deinit { stop() }

    /// What the server logged so far.
    var log: String { Self.log(from: logPath) }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL after 10 s; waits for the exit (the termination handler reaps it).
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { usleep(10_000) }
        }
    }

    /// Runs a client command against this server (its URL and token unless `environment` says otherwise).
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 30) async throws -> Outcome {
        try await CLI.run(arguments, environment: client.merging(environment) { $1 }, timeout: timeout)
    }

    private static func log(from path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    /// The port of "listening on http://host:PORT".
    static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "listening on http://") else { return nil }
        let rest = log[range.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...].prefix { $0.isNumber })
    }
}

/// Runs planter on a pseudo-terminal (its standard output and error), as a user's shell would,
/// and collects what it wrote there.
enum PseudoTerminal {
    static func run(_ arguments: [String], environment extra: [String: String] = [:], rows: UInt16 = 24, columns: UInt16 = 100,
                    timeout: Double = 30) async throws -> (status: Int32, output: String) {
        // unlockpt and ptsname_r are declared only with _XOPEN_SOURCE: found by name (grantpt is a no-op with devpts).
        typealias Unlock = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var name = [CChar](repeating: 0, count: 128)
        guard master >= 0, let unlock = dlsym(nil, "unlockpt"), let pathOf = dlsym(nil, "ptsname_r"),
            unsafeBitCast(unlock, to: Unlock.self)(master) == 0,
            unsafeBitCast(pathOf, to: Name.self)(master, &name, name.count) == 0
        else {
            if master >= 0 { close(master) }
            throw TestFailure("cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let slavePath = String(cString: name)
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        let slave = open(slavePath, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { close(master); throw TestFailure("cannot open \(slavePath)") }
        let process = Process()
        process.executableURL = try CLI.planter
        process.arguments = arguments
        process.environment = CLI.environment(extra)
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = terminal
        process.standardError = terminal
        process.standardInput = FileHandle.nullDevice
        try process.run()
        close(slave)  // the child holds it now; the master reads EIO once the child is gone
        let collected = OutputBox()
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(master, &buffer, buffer.count)
                if count > 0 { collected.append(buffer[0..<count]) } else if count < 0 && errno == EINTR { continue } else { break }
            }
        }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try await Task.sleep(nanoseconds: 10_000_000) }
            close(master)
            throw TestFailure("planter \(arguments.joined(separator: " ")) did not finish within \(timeout)s on a terminal:\n\(collected.text)")
        }
        _ = await eventually(within: 5) { reader.isFinished }
        close(master)
        return (process.terminationStatus, collected.text)
    }

    final class OutputBox: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        func append(_ slice: ArraySlice<UInt8>) { lock.withLock { bytes += slice } }
        var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    }
}
