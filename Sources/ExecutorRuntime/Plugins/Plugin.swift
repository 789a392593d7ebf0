import ExecutorAPI
import PlanterCore
import PlanterJSON

#if canImport(Glibc)
import Glibc
#endif

/// The ABI version this host speaks (from the header it was built with).
public let planterABIVersion: UInt32 = PLANTER_EXECUTOR_ABI_VERSION

/// A plugin library that loaded and passed the version check. Plugins are never unloaded:
/// unmapping a Swift plugin makes later dynamic casts crash, so the descriptor lives as
/// long as the process.
public final class Plugin: Sendable {
    public let name: String
    public let version: String
    public let summary: String
    public let abiVersion: UInt32
    public let path: String
    /// execute may run concurrently on one instance.
    public let concurrentExecute: Bool
    nonisolated(unsafe) let descriptor: UnsafePointer<planter_executor_plugin>

    init(descriptor: UnsafePointer<planter_executor_plugin>, path: String) {
        self.descriptor = descriptor
        self.path = path
        let d = descriptor.pointee
        name = d.name.map { String(cString: $0) } ?? ""
        version = d.version.map { String(cString: $0) } ?? "unknown"
        summary = d.description.map { String(cString: $0) } ?? ""
        abiVersion = d.abi_version
        concurrentExecute = d.capabilities & UInt64(PLANTER_CAP_CONCURRENT_EXECUTE) != 0
    }

    /// Creates one executor instance with its deployment `config`.
    /// Throws the plugin's own message when its create function refuses.
    public func makeExecutor(name instanceName: String, config: JSON = .object(JSONObject()),
                             log: PluginExecutor.LogSink? = nil) throws(PluginFailure) -> PluginExecutor {
        try PluginExecutor(plugin: self, instanceName: instanceName, config: config, log: log)
    }
}

/// A plugin that could not be loaded, or an instance it refused to create: the file, and why.
/// (Plugin authors have their own `PluginError` in ExecutorKit; this is the host's side.)
public struct PluginFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Opens plugin libraries and checks them. Failures are values, never crashes: a bad
/// plugin is reported and the host keeps serving the others.
public enum PluginLoader {
    /// Plugins are discovered by file name: `libplanter-<name>.so`.
    public static let filePrefix = "libplanter-"
    public static let fileSuffix = ".so"

    /// The oldest struct size this host accepts for a version-1 descriptor.
    static let minimumDescriptorSize = UInt32(MemoryLayout<planter_executor_plugin>.size)

    public static func load(path: String) throws(PluginFailure) -> Plugin {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw PluginFailure(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginFailure(path: path, reason: "not a loadable library: \(reason)")
        }
        guard let symbol = dlsym(handle, PLANTER_EXECUTOR_ENTRY_SYMBOL) else {
            throw PluginFailure(path: path, reason: "missing entry symbol \(PLANTER_EXECUTOR_ENTRY_SYMBOL); "
                + "is this a Planter executor plugin?")
        }
        let entry = unsafeBitCast(symbol, to: planter_executor_entry_fn.self)
        guard let descriptor = entry(planterABIVersion) else {
            throw PluginFailure(path: path, reason: "the plugin declined to serve a host of ABI version \(planterABIVersion)")
        }
        let version = descriptor.pointee.abi_version
        guard version == planterABIVersion else {
            throw PluginFailure(path: path, reason: "plugin speaks executor ABI version \(version); "
                + "this host speaks ABI version \(planterABIVersion)")
        }
        guard descriptor.pointee.struct_size >= minimumDescriptorSize else {
            throw PluginFailure(path: path, reason: "plugin descriptor is \(descriptor.pointee.struct_size) bytes, "
                + "ABI version \(version) needs at least \(minimumDescriptorSize)")
        }
        let d = descriptor.pointee
        guard d.create != nil, d.execute != nil, d.destroy != nil, d.free_string != nil else {
            throw PluginFailure(path: path, reason: "plugin descriptor lacks create, execute, destroy or free_string")
        }
        let plugin = Plugin(descriptor: descriptor, path: path)
        guard isValidName(plugin.name) else {
            throw PluginFailure(path: path, reason: "plugin name \"\(plugin.name)\" is not [a-z0-9_-]+")
        }
        return plugin
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }
}
