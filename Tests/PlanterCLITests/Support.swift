import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `planter` executable from the build products folder (the folder this
/// test binary was built into), the way a user would.
enum CLI {
    /// The products folder: the first ancestor of the test binary (or its .xctest bundle)
    /// that holds an executable named `planter`.
    static let productsDirectory: URL? = {
        var starts: [URL] = []
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        if let first = CommandLine.arguments.first, !first.isEmpty {
            starts.append(URL(fileURLWithPath: first, relativeTo: cwd).standardizedFileURL)
        }
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: link))
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            starts.append(bundle.bundleURL)
        }
        if let url = Bundle.main.executableURL { starts.append(url) }
        starts.append(Bundle.main.bundleURL)
        for start in starts {
            var directory = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                if isExecutableFile(directory.appendingPathComponent("planter")) { return directory }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }()

    static func isExecutableFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }

    static var planter: URL {
        get throws {
            guard let directory = productsDirectory else {
                throw TestFailure("no planter executable found next to the test binary \(CommandLine.arguments.first ?? "?"); "
                    + "build everything first (swift build --scratch-path .build-cli)")
            }
            return directory.appendingPathComponent("planter")
        }
    }

    /// The repository's examples/ folder (located from this source file).
    static let examples: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // PlanterCLITests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("examples", isDirectory: true)

    static func example(_ name: String) -> String { examples.appendingPathComponent(name).path }

    /// The environment children get: the test's own, without the variables that would make
    /// planter pick another config or other plugins, plus `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTER_CONFIG"] = nil
        environment["PLANTER_PLUGIN_PATH"] = nil
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Runs planter to completion, with `input` as its standard input (else /dev/null). A run
    /// that outlives `timeout` is killed and reported.
    static func run(_ arguments: [String], environment extra: [String: String] = [:], directory: URL? = nil,
                    input: String? = nil, timeout: Double = 20) async throws -> Outcome {
        let child = try Child(arguments, environment: environment(extra), directory: directory, input: input.map { Data($0.utf8) })
        return try await child.finish(timeout: timeout)
    }

    /// Runs another program (a compiler, say) the same way.
    static func runTool(_ path: String, _ arguments: [String], directory: URL? = nil, timeout: Double = 60) async throws -> Outcome {
        let child = try Child(arguments, environment: environment(), directory: directory, executable: URL(fileURLWithPath: path))
        return try await child.finish(timeout: timeout)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What a finished planter run left behind.
struct Outcome: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
    var pid: Int32

    var description: String { "exit \(status) after \(String(format: "%.2f", seconds))s\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }

    /// stdout parsed as JSON.
    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSON {
        do {
            return try JSONParser.parse(stdout)
        } catch {
            Issue.record("stdout is not JSON: \(error)\n\(self)", sourceLocation: sourceLocation)
            throw error
        }
    }
}

/// A running planter process. Waits with a termination handler (not waitUntilExit) and
/// drains both pipes on their own threads so a chatty child never blocks.
final class Child: @unchecked Sendable {
    private let process = Process()
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var exited = false
    private var killedByWatchdog = false
    let started = Date()

    init(_ arguments: [String], environment: [String: String], directory: URL? = nil, executable: URL? = nil,
         input: Data? = nil) throws {
        process.executableURL = try executable ?? CLI.planter
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        group.enter()
        process.terminationHandler = { [self] _ in
            lock.withLock { exited = true }
            group.leave()
        }
        try process.run()  // closes the parent's copies of the pipes' write ends
        if let stdin, let input {
            // On its own thread: a child that reads slowly (or not at all) never blocks the test.
            let writer = stdin.fileHandleForWriting
            Thread.detachNewThread {
                writer.write(input)
                try? writer.close()
            }
        }
        drain(out.fileHandleForReading) { [self] data in lock.withLock { stdoutData = data } }
        drain(err.fileHandleForReading) { [self] data in lock.withLock { stderrData = data } }
    }

    private func drain(_ handle: FileHandle, into store: @escaping @Sendable (Data) -> Void) {
        group.enter()
        let group = group
        Thread.detachNewThread {
            // read(2) directly, retrying EINTR: FileHandle.readToEnd gives up on an interrupted
            // read (SIGCHLD from other tests' children), which loses the output.
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            let fd = handle.fileDescriptor
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count > 0 {
                    data.append(buffer, count: count)
                    store(data)  // readable while the child runs (`outputSoFar`)
                } else if count < 0 && (errno == EINTR || errno == EAGAIN) {
                    if errno == EAGAIN { usleep(1000) }
                } else {
                    break
                }
            }
            store(data)
            group.leave()
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// What the child wrote to stdout until now.
    var outputSoFar: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }

    var isRunning: Bool { lock.withLock { !exited } }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit and both pipes' EOF; kills the process after `timeout` seconds.
    func finish(timeout: Double) async throws -> Outcome {
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { [self] in
            let running = lock.withLock { () -> Bool in
                if !exited { killedByWatchdog = true }
                return !exited
            }
            if running { kill(pid, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
        watchdog.cancel()
        let (out, err, killed) = lock.withLock { (stdoutData, stderrData, killedByWatchdog) }
        let outcome = Outcome(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                              stderr: String(decoding: err, as: UTF8.self),
                              seconds: Date().timeIntervalSince(started), pid: pid)
        if killed { throw TestFailure("planter did not finish within \(timeout)s and was killed\n\(outcome)") }
        return outcome
    }
}

/// A fresh directory for one test, removed at the end.
final class Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("planter-cli-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var path: String { url.path }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes a file and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// Reading a run result (`planter run --output json`).
extension JSON {
    var phases: [JSON] { self["phases"]?.arrayValue ?? [] }

    func phase(_ id: String) -> JSON? { phases.first { $0["id"]?.stringValue == id } }

    /// id → status of every phase.
    var statuses: [String: String] {
        Dictionary(uniqueKeysWithValues: phases.map { ($0["id"]?.stringValue ?? "?", $0["status"]?.stringValue ?? "?") })
    }

    var string: String? { stringValue }

    func string(_ key: String) -> String? { self[key]?.stringValue }

    var attemptStatuses: [String] { (self["attempts"]?.arrayValue ?? []).map { $0["status"]?.stringValue ?? "?" } }
}

/// A shell phase as JSON text, for manifests written by the tests.
func shellPhase(_ id: String, _ script: String, waitFor: [String] = [], extra: String = "") -> String {
    let wait = waitFor.isEmpty ? "" : #", "waitFor": {"phases": [\#(waitFor.map { "\"\($0)\"" }.joined(separator: ", "))]}"#
    return #"{"kind": "Phase", "id": "\#(id)", "spec": {"selector": {"matchLabels": {"executor": "shell"}}\#(wait)\#(extra), "x-run": {"script": \#(JSON.string(script).serialized)}}}"#
}

func manifest(_ phases: String...) -> String { "[\n" + phases.joined(separator: ",\n") + "\n]\n" }

/// Polls `condition` every 20 ms for up to `seconds`.
func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return condition()
}
