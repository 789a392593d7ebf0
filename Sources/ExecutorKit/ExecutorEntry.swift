internal import ExecutorAPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the plugin's C descriptor. `@convention(c)` functions cannot be generic, so the
/// descriptor's functions are fixed thunks that reach the plugin type through a
/// module-level registration. Each plugin library links its own copy of ExecutorKit, so
/// that registration is per library: one plugin type per library.
public enum ExecutorEntry {
    /// The `planter_executor_plugin` descriptor for `plugin`, built on first use and kept
    /// for the life of the process. Returns nil when the host speaks no ABI version this
    /// kit provides, or when a different plugin type was already registered in this library.
    /// Thread-safe and cheap after the first call, as the ABI requires of the entry.
    public static func descriptor<P: ExecutorPlugin>(for plugin: P.Type, hostABI: UInt32 = 1) -> UnsafeRawPointer? {
        guard hostABI >= 1 else { return nil }
        return registration.withLock { current -> UInt? in
            if let current {
                return current.type == ObjectIdentifier(plugin) ? current.descriptor : nil
            }
            let descriptor = makeDescriptor(P.self)
            current = Registration(type: ObjectIdentifier(plugin), plugin: plugin, descriptor: descriptor)
            return descriptor
        }.flatMap { UnsafeRawPointer(bitPattern: $0) }
    }

    /// Renders a result as a malloc'd, NUL-terminated string (what execute() returns).
    static func cString(_ result: PluginResult) -> UnsafeMutablePointer<CChar>? {
        var writer = JSONWriter(capacity: 128)
        result.write(to: &writer)
        return cString(bytes: writer.bytes)
    }

    static func cString(bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        guard let memory = malloc(bytes.count + 1) else { return nil }
        let out = memory.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { out.update(from: base, count: buffer.count) }
        }
        out[bytes.count] = 0
        return memory.assumingMemoryBound(to: CChar.self)
    }

    static func cString(_ text: String) -> UnsafeMutablePointer<CChar>? { strdup(text) }
}

private struct Registration: Sendable {
    let type: ObjectIdentifier
    let plugin: any ExecutorPlugin.Type
    /// The descriptor's address (as bits, to keep the registration Sendable); never freed.
    let descriptor: UInt
}

private let registration = Mutex<Registration?>(nil)

private func registeredPlugin() -> (any ExecutorPlugin.Type)? {
    registration.withLock { $0?.plugin }
}

private func makeDescriptor<P: ExecutorPlugin>(_ plugin: P.Type) -> UInt {
    let descriptor = UnsafeMutablePointer<planter_executor_plugin>.allocate(capacity: 1)
    descriptor.initialize(
        to: planter_executor_plugin(
            abi_version: 1,
            struct_size: UInt32(MemoryLayout<planter_executor_plugin>.size),
            name: UnsafePointer(strdup(P.name)),
            version: UnsafePointer(strdup(P.version)),
            description: P.summary.flatMap { UnsafePointer(strdup($0)) },
            capabilities: P.concurrentExecute ? 1 : 0,  // PLANTER_CAP_CONCURRENT_EXECUTE
            create: pluginCreate,
            execute: pluginExecute,
            destroy: pluginDestroy,
            free_string: pluginFreeString
        )
    )
    return UInt(bitPattern: descriptor)
}

/// What the host holds as the instance pointer.
private final class Instance {
    let plugin: any ExecutorPlugin
    init(_ plugin: any ExecutorPlugin) { self.plugin = plugin }
}

// The thunks below are the only code the host calls. None of them throws across the
// boundary: errors become create()'s error string or an "invalid"/"failed" result.

private func pluginCreate(
    _ configJSON: UnsafePointer<CChar>?, _ host: UnsafePointer<planter_host>?,
    _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> UnsafeMutableRawPointer? {
    func fail(_ message: String) -> UnsafeMutableRawPointer? {
        error?.pointee = ExecutorEntry.cString(message)
        return nil
    }
    guard let plugin = registeredPlugin() else { return fail("no executor plugin registered") }
    let config: JSON
    if let configJSON {
        do {
            config = try JSONParser.parse(String(cString: configJSON))
        } catch {
            return fail("invalid executor config: \(error)")
        }
    } else {
        config = .object(JSONObject())
    }
    do {
        let instance = Instance(try plugin.init(config: config, host: PluginHost(host)))
        return Unmanaged.passRetained(instance).toOpaque()
    } catch {
        return fail("\(error)")
    }
}

private func pluginExecute(
    _ instance: UnsafeMutableRawPointer?, _ requestJSON: UnsafePointer<CChar>?, _ length: Int,
    _ call: UnsafePointer<planter_call>?
) -> UnsafeMutablePointer<CChar>? {
    guard let instance else { return ExecutorEntry.cString(.failed("execute called without an instance")) }
    let plugin = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue().plugin
    guard let requestJSON else { return ExecutorEntry.cString(.invalid("execute called without a request")) }
    let request: PluginRequest
    do {
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(requestJSON).assumingMemoryBound(to: UInt8.self), count: length)
        request = try PluginRequest(bytes: bytes)
    } catch {
        return ExecutorEntry.cString(.invalid(error.message))
    }
    return ExecutorEntry.cString(plugin.execute(request, call: PluginCall(call)))
}

private func pluginDestroy(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<Instance>.fromOpaque(instance).release()
}

private func pluginFreeString(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}
