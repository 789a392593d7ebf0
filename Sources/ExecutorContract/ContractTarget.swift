import ExecutorRuntime
import PlanterCore
import PlanterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The executor under test, reached through the host's own paths: a plugin `.so` loaded with the
/// host's dlopen loader (in process, or in `planter-executor-host` as `isolation: process` runs it),
/// or a program speaking the subprocess protocol (a `command:` executor).
public enum ContractTarget: Sendable, CustomStringConvertible {
    case plugin(path: String)
    /// `executorHost` is the path of planter-executor-host.
    case isolatedPlugin(path: String, executorHost: String)
    case command([String], environment: [String: String] = [:])

    public var description: String {
        switch self {
        case .plugin(let path): return path
        case .isolatedPlugin(let path, _): return path + " (isolation: process)"
        case .command(let argv, _): return argv.joined(separator: " ")
        }
    }

    var isInProcess: Bool { if case .plugin = self { return true } else { return false } }
}

/// What the executor declares about itself: the plugin descriptor, or the subprocess handshake.
public struct ContractDescriptor: Sendable, Equatable {
    public var name: String
    public var version: String
    /// The C ABI version of a plugin, or the subprocess protocol version of a program.
    public var protocolVersion: Int
    public var concurrent: Bool
}

/// Why an instance could not be made (create's error, a failed start or handshake).
struct CreateFailure: Error, CustomStringConvertible {
    var description: String
}

/// One executor instance made for a check, and how to destroy it.
final class ContractInstance: Sendable {
    private let held: Mutex<(any Executor)?>
    /// The subprocess behind it, when there is one (for the destroy check).
    let subprocess: SubprocessExecutor?

    init(_ executor: any Executor, subprocess: SubprocessExecutor? = nil) {
        held = Mutex(executor)
        self.subprocess = subprocess
    }

    var executor: (any Executor)? { held.withLock { $0 } }

    /// Destroys it: a plugin instance is destroyed when its last reference goes (PluginExecutor's
    /// deinit calls the ABI's destroy); a subprocess is shut down and waited for.
    func destroy() {
        let executor = held.withLock { value -> (any Executor)? in
            defer { value = nil }
            return value
        }
        subprocess?.shutdown()
        _ = executor
    }
}

/// Loads the target once and makes instances of it. Log lines of the executor are kept (the last
/// few go into failure messages) instead of being written to stderr.
final class ContractSubject: Sendable {
    let target: ContractTarget
    private let plugin: Result<Plugin, PluginFailure>?
    private let logs = Mutex<[String]>([])
    private let counter = Atomic<Int>(0)

    init(_ target: ContractTarget) {
        self.target = target
        switch target {
        case .plugin(let path):
            do { plugin = .success(try PluginLoader.load(path: path)) } catch { plugin = .failure(error) }
        case .isolatedPlugin, .command:
            plugin = nil
        }
    }

    /// The plugin's load error, if it did not load.
    var loadError: PluginFailure? {
        if case .failure(let error) = plugin { return error }
        return nil
    }

    var recentLogs: [String] { logs.withLock { Array($0.suffix(5)) } }

    private func log(_ level: LogLevel, _ message: String) {
        logs.withLock { lines in
            lines.append("[\(level.name)] \(message)")
            if lines.count > 200 { lines.removeFirst(lines.count - 200) }
        }
    }

    /// The descriptor or handshake, read from a fresh instance for subprocesses.
    func descriptor(config: JSON) -> Result<ContractDescriptor, CreateFailure> {
        switch plugin {
        case .success(let plugin):
            return .success(ContractDescriptor(name: plugin.name, version: plugin.version,
                                               protocolVersion: Int(plugin.abiVersion), concurrent: plugin.concurrentExecute))
        case .failure(let error):
            return .failure(CreateFailure(description: "the host refused to load it: \(error.reason)"))
        case nil:
            let executor = makeSubprocess(config: config)
            defer { executor.shutdown() }
            switch executor.start() {
            case .success(let handshake):
                return .success(ContractDescriptor(name: handshake.name, version: handshake.version,
                                                   protocolVersion: handshake.protocolVersion, concurrent: handshake.concurrent))
            case .failure(let error):
                return .failure(CreateFailure(description: "\(error)"))
            }
        }
    }

    /// A new instance with `config` (create for a plugin; start, handshake and configure for a subprocess).
    func instance(config: JSON) -> Result<ContractInstance, CreateFailure> {
        switch plugin {
        case .success(let plugin):
            let name = "contract-\(counter.add(1, ordering: .relaxed).newValue)"
            do {
                return .success(ContractInstance(try plugin.makeExecutor(name: name, config: config, log: { [self] in log($0, $1) })))
            } catch {
                return .failure(CreateFailure(description: error.reason))
            }
        case .failure(let error):
            return .failure(CreateFailure(description: "the host refused to load it: \(error.reason)"))
        case nil:
            let executor = makeSubprocess(config: config)
            switch executor.start() {
            case .success: return .success(ContractInstance(executor, subprocess: executor))
            case .failure(let error):
                executor.shutdown()
                return .failure(CreateFailure(description: "\(error)"))
            }
        }
    }

    private func makeSubprocess(config: JSON) -> SubprocessExecutor {
        let name = "contract-\(counter.add(1, ordering: .relaxed).newValue)"
        var options: SubprocessExecutor.Options
        switch target {
        case .isolatedPlugin(let path, let host):
            options = SubprocessExecutor.Options(command: [host, path, "--name", name], config: config)
            // As `isolation: process` runs it: a crash ends the executor host at once.
            options.environment["SWIFT_BACKTRACE"] = "enable=no"
        case .command(let argv, let environment):
            options = SubprocessExecutor.Options(command: argv, environment: environment, config: config)
        case .plugin(let path):
            options = SubprocessExecutor.Options(command: [path], config: config)
        }
        return SubprocessExecutor(name: name, options: options, log: { [self] in log($0, $1) })
    }
}
