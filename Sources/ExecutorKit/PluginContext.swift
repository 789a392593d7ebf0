internal import ExecutorAPI

/// What the host offers an instance for its whole life: a log outside any call.
/// Valid from `init(config:host:)` until the instance is destroyed; usable from any thread.
public struct PluginHost: @unchecked Sendable {
    // @unchecked: the ABI guarantees the pointee lives until destroy() and that `log` is
    // callable from any thread; ExecutorKit never mutates it.
    let pointer: UnsafePointer<planter_host>?

    init(_ pointer: UnsafePointer<planter_host>?) { self.pointer = pointer }

    /// "planter", or "" when the host did not say.
    public var hostName: String { pointer?.pointee.host_name.map { String(cString: $0) } ?? "" }
    /// The host's version, or "".
    public var hostVersion: String { pointer?.pointee.host_version.map { String(cString: $0) } ?? "" }
    /// The ABI version the host speaks.
    public var abiVersion: UInt32 { pointer?.pointee.abi_version ?? 0 }

    public func log(_ level: PluginLogLevel, _ message: String) {
        guard let pointer, let log = pointer.pointee.log else { return }
        message.withCString { log(pointer, level.rawValue, $0) }
    }
}

/// What the host offers one execute call: streamed output, log lines and cancellation.
/// Valid only until `execute` returns (do not keep it); usable from any thread meanwhile.
public struct PluginCall: @unchecked Sendable {
    // @unchecked: valid [during-call] from any thread, concurrently, per the ABI.
    let pointer: UnsafePointer<planter_call>?

    init(_ pointer: UnsafePointer<planter_call>?) { self.pointer = pointer }

    /// Streams a chunk of output. The host copies what it keeps.
    public func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {
        guard let pointer, let output = pointer.pointee.output, let base = bytes.baseAddress, bytes.count > 0
        else { return }
        output(pointer, stream.rawValue, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    public func output(_ stream: PluginStream, _ text: String) {
        var text = text
        text.withUTF8 { output(stream, UnsafeRawBufferPointer($0)) }
    }

    public func log(_ level: PluginLogLevel, _ message: String) {
        guard let pointer, let log = pointer.pointee.log else { return }
        message.withCString { log(pointer, level.rawValue, $0) }
    }

    /// True once the host has cancelled the call (an atomic load on the host side).
    public var isCancelled: Bool {
        guard let pointer, let isCancelled = pointer.pointee.is_cancelled else { return false }
        return isCancelled(pointer) != 0
    }

    /// A descriptor that becomes readable once the call is cancelled, for poll() loops;
    /// nil when the host cannot provide one. Host-owned: never read, write or close it.
    /// The host creates it on first use, so ask only when you will poll it.
    public var cancelFD: Int32? {
        guard let pointer, let cancelFD = pointer.pointee.cancel_fd else { return nil }
        let fd = cancelFD(pointer)
        return fd >= 0 ? fd : nil
    }
}
