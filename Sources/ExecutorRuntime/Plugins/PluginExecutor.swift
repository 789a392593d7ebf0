import ExecutorAPI
import PlanterCore
import PlanterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One executor instance of a dlopen'd plugin: created with its deployment config,
/// called through the C ABI, destroyed when the host lets go of it.
public final class PluginExecutor: Executor {
    public typealias LogSink = @Sendable (LogLevel, String) -> Void

    public let plugin: Plugin
    public let instanceName: String
    nonisolated(unsafe) private let instance: UnsafeMutableRawPointer
    /// Stable storage for the host struct the plugin may keep until destroy.
    nonisolated(unsafe) private let hostStruct: UnsafeMutablePointer<planter_host>
    private let hostLink: Unmanaged<HostLink>
    /// Plugins without PLANTER_CAP_CONCURRENT_EXECUTE get one call at a time.
    private let serial = Mutex(())
    private let serialize: Bool

    init(plugin: Plugin, instanceName: String, config: JSON, log: LogSink?) throws(PluginFailure) {
        self.plugin = plugin
        self.instanceName = instanceName
        let link = Unmanaged.passRetained(HostLink(name: instanceName, sink: log))
        hostLink = link
        hostStruct = .allocate(capacity: 1)
        hostStruct.initialize(to: planter_host(
            abi_version: planterABIVersion,
            struct_size: UInt32(MemoryLayout<planter_host>.size),
            host_data: link.toOpaque(),
            host_name: HostStrings.name,
            host_version: HostStrings.version,
            log: { host, level, message in
                guard let host, let message else { return }
                let link = Unmanaged<HostLink>.fromOpaque(host.pointee.host_data).takeUnretainedValue()
                link.log(LogLevel(rawValue: level) ?? .info, String(cString: message))
            }))
        var error: UnsafeMutablePointer<CChar>? = nil
        let configText = config.serialized
        let created = plugin.descriptor.pointee.create(configText, hostStruct, &error)
        guard let created else {
            let message = error.map { String(cString: $0) } ?? "create failed without a message"
            if let error { plugin.descriptor.pointee.free_string(error) }
            hostStruct.deallocate()
            link.release()
            throw PluginFailure(path: plugin.path, reason: "executor \(instanceName): \(message)")
        }
        instance = created
        serialize = !plugin.concurrentExecute
    }

    deinit {
        plugin.descriptor.pointee.destroy(instance)
        hostStruct.deallocate()
        hostLink.release()
    }

    public func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        execute(terminated: request.encodedJSON(), call: call) { bytes in
            ExecuteResult.decode(bytes, executor: instanceName)
        }
    }

    /// Runs one attempt from request JSON text as it is (the contract kit sends broken ones).
    public func execute(requestJSON: [UInt8], call: CallContext) -> ExecuteResult {
        execute(terminated: requestJSON, call: call) { bytes in
            ExecuteResult.decode(bytes, executor: instanceName)
        }
    }

    /// Runs one attempt from request JSON text as it is, and gives back the plugin's result JSON
    /// as it is: planter-executor-host passes both through the subprocess protocol unchanged,
    /// unknown keys included. A result that cannot travel as one protocol line (not a JSON object,
    /// or a newline in it) comes back as the failed result ExecuteResult.decode makes of it.
    public func executeForwarding(requestJSON: [UInt8], call: CallContext) -> [UInt8] {
        execute(terminated: requestJSON, call: call) { bytes -> [UInt8] in
            if !bytes.contains(0x0A), (try? JSONParser.parse(bytes))?.objectValue != nil { return Array(bytes) }
            var writer = JSONWriter(capacity: 256)
            writer.write(ExecuteResult.decode(bytes, executor: instanceName).json)
            return writer.bytes
        } ?? {
            var writer = JSONWriter(capacity: 128)
            writer.write(noResult.json)
            return writer.bytes
        }()
    }

    private var noResult: ExecuteResult { .failed("executor \(instanceName) (plugin \(plugin.name)) returned no result") }

    private func execute<R: Sendable>(
        terminated requestBytes: consuming [UInt8], call: CallContext, read: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R? {
        // The request must also be NUL-terminated (the header promises both); appended in
        // place when the caller handed over its only reference.
        var bytes = requestBytes
        let length = bytes.count
        bytes.append(0)
        if serialize {
            return serial.withLock { _ in invoke(bytes, length: length, call: call, read: read) }
        }
        return invoke(bytes, length: length, call: call, read: read)
    }

    private func execute(terminated requestBytes: consuming [UInt8], call: CallContext,
                         decode: (UnsafeBufferPointer<UInt8>) -> ExecuteResult) -> ExecuteResult {
        execute(terminated: requestBytes, call: call, read: decode) ?? noResult
    }

    /// Calls the plugin; `read` sees the result bytes while the plugin still owns them. Nil when
    /// the plugin returned no result.
    private func invoke<R: Sendable>(_ bytes: [UInt8], length: Int, call: CallContext,
                           read: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        let context = Unmanaged.passUnretained(call)
        var callStruct = planter_call(
            abi_version: planterABIVersion,
            struct_size: UInt32(MemoryLayout<planter_call>.size),
            host_data: context.toOpaque(),
            output: { call, stream, data, length in
                guard let call, let data else { return }
                let context = Unmanaged<CallContext>.fromOpaque(call.pointee.host_data).takeUnretainedValue()
                context.output(OutputChannel(rawValue: stream) ?? .stdout, UnsafeRawBufferPointer(start: data, count: length))
            },
            log: { call, level, message in
                guard let call, let message else { return }
                let context = Unmanaged<CallContext>.fromOpaque(call.pointee.host_data).takeUnretainedValue()
                context.log(LogLevel(rawValue: level) ?? .info, String(cString: message))
            },
            is_cancelled: { call in
                guard let call else { return 0 }
                return Unmanaged<CallContext>.fromOpaque(call.pointee.host_data).takeUnretainedValue().isCancelled ? 1 : 0
            },
            cancel_fd: { call in
                guard let call else { return -1 }
                return Unmanaged<CallContext>.fromOpaque(call.pointee.host_data).takeUnretainedValue().cancelFD()
            })
        let descriptor = plugin.descriptor.pointee
        let resultPointer: UnsafeMutablePointer<CChar>? = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                withUnsafePointer(to: &callStruct) { callPointer in
                    descriptor.execute(instance, chars.baseAddress, length, callPointer)
                }
            }
        }
        withExtendedLifetime(call) {}
        guard let resultPointer else { return nil }
        defer { descriptor.free_string(resultPointer) }
        let length = strlen(resultPointer)
        return resultPointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            read(UnsafeBufferPointer(start: bytes, count: length))
        }
    }
}

/// What `planter_host.host_data` points at: the instance's name and where its logs go.
final class HostLink: Sendable {
    let name: String
    let sink: PluginExecutor.LogSink?

    init(name: String, sink: PluginExecutor.LogSink?) {
        self.name = name
        self.sink = sink
    }

    func log(_ level: LogLevel, _ message: String) {
        if let sink { sink(level, message) } else { StandardError.write("[\(level.name)] executor \(name): \(message)\n") }
    }
}

/// C strings for the host struct, allocated once for the life of the process.
enum HostStrings {
    nonisolated(unsafe) static let name: UnsafePointer<CChar> = UnsafePointer(strdup("planter")!)
    nonisolated(unsafe) static let version: UnsafePointer<CChar> = UnsafePointer(strdup(PlanterVersion.current)!)
}
