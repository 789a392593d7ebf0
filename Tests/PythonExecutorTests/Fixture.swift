import PlanterHost
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Helpers for driving the real libplanter-python.so through the host's loader.

enum Fixture {
    struct Missing: Error, CustomStringConvertible { var description: String }

    static func plugin() throws -> Plugin { try BuiltPlugin.load("python") }

    static func executor(_ config: JSON = [:]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "python", config: config)
    }

    static func request(
        _ payload: JSON, phase: String = "p", timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(),
        secrets: [String: String] = [:], dryRun: Bool = false
    ) -> ExecuteRequest {
        ExecuteRequest(runId: "r-test", phaseId: phase, executor: "python", payload: payload, dryRun: dryRun,
                       timeoutMs: timeoutMs, inputs: inputs, secrets: secrets)
    }

    /// Runs one phase on `executor`, collecting its output.
    static func run(
        _ executor: PluginExecutor, _ payload: JSON, timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(),
        secrets: [String: String] = [:], dryRun: Bool = false, during: (CallContext) -> Void = { _ in }
    ) -> Run {
        let collector = Collector()
        let context = CallContext(output: { collector.append($0, $1) })
        during(context)
        let result = executor.execute(
            request(payload, timeoutMs: timeoutMs, inputs: inputs, secrets: secrets, dryRun: dryRun), call: context)
        return collector.run(result)
    }

    /// Gone = no /proc entry, or a zombie. Waits up to a second.
    static func isGone(_ pid: Int32) -> Bool {
        for _ in 0..<100 {
            guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
            var buffer = [CChar](repeating: 0, count: 512)
            let line = fgets(&buffer, 512, file) != nil
                ? buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : ""
            fclose(file)
            if let paren = line.lastIndex(of: ")") {
                let state = line[line.index(after: paren)...].drop(while: { $0 == " " }).first
                if state == "Z" || state == "X" { return true }
            }
            usleep(10_000)
        }
        return false
    }
}

/// A fresh folder under /tmp, removed (with everything in it) afterwards.
final class TempDir {
    let path: String

    init() throws {
        var template = Array("/tmp/planter-python-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Fixture.Missing(description: "mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { removeTree(path) }

    func write(_ name: String, _ text: String) throws {
        guard let file = fopen(path + "/" + name, "w") else { throw Fixture.Missing(description: "cannot write \(name)") }
        fputs(text, file)
        fclose(file)
    }

    func exists(_ name: String) -> Bool { access(path + "/" + name, F_OK) == 0 }
}

func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { removeTree(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

extension JSON {
    init(_ value: JSON) { self = value }
}
