import ExecutorRuntime
import Foundation
import PlanterDeployment
import PlanterHost
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Paths of the repository and the build products these tests drive.
enum Paths {
    struct Missing: Error, CustomStringConvertible { var description: String }

    /// The repository root, from this file's path (sources stay where they are; only build
    /// products move with --scratch-path).
    static let repository: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    static let exampleExecutor = repository + "/examples/executors/echo_executor.py"
    static let abiInclude = repository + "/Sources/ExecutorAPI/include"

    /// The folder of the test binary, where SwiftPM also puts the plugins and planter-executor-host.
    static let products: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = String(exe[..<exe.lastIndex(of: "/")!])
        for _ in 0..<4 where access(dir + "/libplanter-shell.so", R_OK) != 0 {
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
        }
        return dir
    }()

    static func product(_ name: String) throws -> String {
        let path = products + "/" + name
        guard access(path, R_OK) == 0 else { throw Missing(description: "\(name) not found in \(products); build it first") }
        return path
    }

    /// The Debian python3 (starts in ~20 ms; a pyenv shim takes much longer).
    static let python: String = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"
}

/// A fresh folder under /tmp, removed afterwards.
final class Scratch: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/planter-subproc-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Paths.Missing(description: "mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        if executable { chmod(file, 0o755) }
        return file
    }

    func read(_ name: String) -> String? { try? String(contentsOfFile: path + "/" + name, encoding: .utf8) }

    /// Waits (up to 30 s) for a file holding a pid.
    func waitForPid(_ name: String) -> Int32? {
        for _ in 0..<3000 {
            if let text = read(name), let pid = Int32(text.filter(\.isNumber)) { return pid }
            usleep(10_000)
        }
        return nil
    }
}

/// Everything one call produced.
final class Capture: Sendable {
    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var logs: [String] = []
    }
    private let state = Mutex(State())

    var stdout: String { state.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    var logs: [String] { state.withLock { $0.logs } }

    func context() -> CallContext {
        CallContext(
            output: { stream, bytes in
                self.state.withLock { if stream == .stdout { $0.stdout.append(contentsOf: bytes) } else { $0.stderr.append(contentsOf: bytes) } }
            },
            log: { level, message in self.state.withLock { $0.logs.append("\(level.name): \(message)") } })
    }
}

/// Executor-level log lines (stderr of the executor, log messages without an id).
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: SubprocessExecutor.LogSink { { level, message in self.lines.withLock { $0.append("\(level.name): \(message)") } } }

    /// Waits up to 30 s for a line containing `text`.
    func waitFor(_ text: String) -> Bool {
        for _ in 0..<3000 {
            if all.contains(where: { $0.contains(text) }) { return true }
            usleep(10_000)
        }
        return false
    }
}

func request(_ payload: JSON, phase: String = "p", inputs: JSONObject = JSONObject(), timeoutMs: Int? = nil) -> ExecuteRequest {
    ExecuteRequest(runId: "r-test", phaseId: phase, executor: "x", payload: payload, timeoutMs: timeoutMs, inputs: inputs)
}

func elapsed(since start: ContinuousClock.Instant) -> Duration { ContinuousClock.now - start }

/// Runs `body` on its own thread once `condition` holds (polled; it gives up after 30 s and
/// runs `body` anyway, so a broken behaviour fails the test instead of hanging it).
func when(_ condition: @escaping @Sendable () -> Bool, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() && ContinuousClock.now < deadline { usleep(2_000) }
        body()
    }
    thread.start()
}

/// Runs a manifest (JSON value) through the real runner on `registry`.
func runPlan(_ manifest: JSON, registry: ExecutorRegistry) throws -> RunResult {
    switch PlanValidator.validate(text: Array(manifest.serialized.utf8), format: .automatic, registry: registry) {
    case .failure(let failure): throw failure
    case .success(let plan):
        return Runner(plan: plan, options: RunOptions(runId: "r-test", parallel: 2)).runBlocking()
    }
}

extension RunResult {
    func phase(_ id: String) -> PhaseRecord { phases.first { $0.id == id }! }
}
