// ExecutorKit: the Swift SDK for writing an executor plugin. It turns an `ExecutorPlugin` into
// the C ABI of Sources/ExecutorAPI (the plugin never touches a pointer), and holds what the
// plugins that run processes share: spawning and watching a child (ChildProcess,
// ChildWatcher, KillEscalation, PollSet, Outbox), the PLANTER_OUTPUTS file (OutputsFile), the
// phase tag and environment checks, and the wording of system facts (SystemText).
//
// It may import ExecutorAPI (internally: plugins see Swift types only), PlanterJSON
// (re-exported), ProcessSupport and the C library; never Foundation or the host's modules,
// since every plugin links it and a plugin must stay small and load into any host.

@_exported import PlanterJSON

/// An executor plugin written in Swift. ExecutorKit turns a type conforming to this into
/// the C descriptor of Sources/ExecutorAPI/include/planter_executor.h; the plugin never
/// touches a pointer. Export it from the plugin library with:
///
///     @_cdecl("planter_executor_entry")
///     public func planterExecutorEntry(_ hostABI: UInt32) -> UnsafeRawPointer? {
///         ExecutorEntry.descriptor(for: MyPlugin.self, hostABI: hostABI)
///     }
///
/// One instance exists per executor the deployment defines (`create`), and lives until the
/// host destroys it.
public protocol ExecutorPlugin: Sendable {
    /// The executor's name: `[a-z0-9_-]+`, e.g. "shell".
    static var name: String { get }
    /// The plugin's own version, e.g. "1.2.0".
    static var version: String { get }
    /// One line for `planter plugins`. Default: none.
    static var summary: String? { get }
    /// Whether `execute` may run concurrently on one instance. Default: false, and the
    /// host then serialises calls per instance.
    static var concurrentExecute: Bool { get }

    /// Creates an instance from the executor's `config` object. A thrown error's
    /// description is handed to the host as the creation error.
    init(config: JSON, host: PluginHost) throws

    /// Runs one attempt of one phase, blocking until it has finished. `call` is valid
    /// only until this returns. A payload the plugin cannot use should give `.invalid`.
    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult
}

extension ExecutorPlugin {
    public static var summary: String? { nil }
    public static var concurrentExecute: Bool { false }
}

/// A plain error with a message, for `init(config:host:)` and friends.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum PluginLogLevel: Int32, Sendable {
    case debug = 0
    case info = 1
    case warning = 2
    case error = 3
}

public enum PluginStream: Int32, Sendable {
    case stdout = 1
    case stderr = 2
}
