import ExecutorRuntime
import PlanterCore

// What the plugin test targets share: finding a built plugin next to the test binary, and
// collecting what one execute call streamed.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A plugin library built by `swift build` into the products folder.
public enum BuiltPlugin {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// `libplanter-<name>.so`: `$PLANTER_<NAME>_PLUGIN` when set, else the products folder, which
    /// holds the test binary (or lies a few levels above it when the tests run from an .xctest bundle).
    public static func path(_ name: String) -> String? {
        let variable = "PLANTER_" + name.uppercased().replacingOccurrences(of: "-", with: "_") + "_PLUGIN"
        if let override = getenv(variable) { return String(cString: override) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        var dir = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : CommandLine.arguments[0]
        for _ in 0..<5 {
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
            let candidate = dir + "/libplanter-\(name).so"
            if access(candidate, R_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Loads it through the host's real loader.
    public static func load(_ name: String) throws -> Plugin {
        guard let path = path(name) else { throw Missing(description: "libplanter-\(name).so not found next to the test binary") }
        return try PluginLoader.load(path: path)
    }
}

/// What one call produced.
public struct Run: Sendable {
    public var result: ExecuteResult
    public var stdout: String
    public var stderr: String
    public var chunks: Int
    public var firstChunkAt: ContinuousClock.Instant?

    public init(result: ExecuteResult, stdout: String, stderr: String, chunks: Int = 0,
                firstChunkAt: ContinuousClock.Instant? = nil) {
        self.result = result
        self.stdout = stdout
        self.stderr = stderr
        self.chunks = chunks
        self.firstChunkAt = firstChunkAt
    }
}

/// Collects the output chunks of a call, from any thread; each stream keeps at most `cap` bytes.
public final class Collector: Sendable {
    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var chunks = 0
        var first: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let cap: Int

    public init(cap: Int = .max) { self.cap = cap }

    public func append(_ stream: OutputChannel, _ bytes: UnsafeRawBufferPointer) {
        state.withLock { state in
            if state.first == nil { state.first = .now }
            state.chunks += 1
            if stream == .stdout {
                if state.stdout.count < cap { state.stdout.append(contentsOf: bytes) }
            } else if state.stderr.count < cap {
                state.stderr.append(contentsOf: bytes)
            }
        }
    }

    public func run(_ result: ExecuteResult) -> Run {
        state.withLock {
            Run(result: result, stdout: String(decoding: $0.stdout, as: UTF8.self),
                stderr: String(decoding: $0.stderr, as: UTF8.self), chunks: $0.chunks, firstChunkAt: $0.first)
        }
    }
}
