import CNATS
import PlanterCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One connection to a NATS cluster. It keeps trying: a server that is down at start-up is
/// retried in the background (publishes are buffered meanwhile, up to nats.c's 8 MB), and a
/// lost connection is re-established forever with backoff, subscriptions restored by nats.c.
/// Publishes are sent as soon as they are made (`SendAsap`): a round trip drops from about
/// 1 ms (the flusher's batching) to about 0.14 ms on these machines.
public final class NATSConnection: @unchecked Sendable {
    /// What happened to the connection, for the log and /ready.
    public enum Event: Sendable {
        case connected, disconnected, reconnected, closed
        case error(String)
    }

    // nats.c handles: the connection is thread-safe (its own locks); `closed` guards Destroy.
    /// Internal: the JetStream context (same module) is made from it.
    let connection: OpaquePointer
    private let options: OpaquePointer
    private let observer: Unmanaged<Observer>
    private let closed = Mutex(false)
    private let subscriptions = Mutex<[ObjectIdentifier: NATSSubscription]>([:])

    /// Receives connection events on nats.c's callback thread.
    final class Observer: Sendable {
        let handler: @Sendable (Event) -> Void
        init(_ handler: @escaping @Sendable (Event) -> Void) { self.handler = handler }
    }

    /// Connects (blocking up to the connect timeout per server; call it off the concurrency
    /// pool). A cluster that cannot be reached yet is not an error: the connection keeps
    /// trying, `isConnected` says false, and `events` hears `.connected` when it comes up.
    public static func connect(_ settings: NATSSettings, events: @escaping @Sendable (Event) -> Void = { _ in })
        throws(NATSError) -> NATSConnection
    {
        var options: OpaquePointer?
        try NATSError.check(natsOptions_Create(&options), "options")
        guard let options else { throw NATSError("options", message: "natsOptions_Create returned nothing") }
        let observer = Unmanaged.passRetained(Observer(events))
        do throws(NATSError) {
            try configure(options, settings, observer.toOpaque())
            var connection: OpaquePointer?
            let status = natsConnection_Connect(&connection, options)
            guard status == NATS_OK || status == NATS_NOT_YET_CONNECTED, let connection else {
                throw NATSError("connect to \(settings.servers.joined(separator: ","))", status)
            }
            return NATSConnection(connection: connection, options: options, observer: observer)
        } catch {
            natsOptions_Destroy(options)
            observer.release()
            throw error
        }
    }

    private init(connection: OpaquePointer, options: OpaquePointer, observer: Unmanaged<Observer>) {
        self.connection = connection
        self.options = options
        self.observer = observer
    }

    private static func configure(_ options: OpaquePointer, _ settings: NATSSettings, _ context: UnsafeMutableRawPointer) throws(NATSError) {
        var pointers = settings.servers.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let status = pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                natsOptions_SetServers(options, $0, Int32(buffer.count))
            }
        }
        try NATSError.check(status, "servers")
        try NATSError.check(natsOptions_SetName(options, settings.name), "name")
        try NATSError.check(natsOptions_SetTimeout(options, settings.connectTimeoutMs), "timeout")
        try NATSError.check(natsOptions_SetPingInterval(options, settings.pingIntervalMs), "ping interval")
        try NATSError.check(natsOptions_SetMaxReconnect(options, -1), "reconnect")
        try NATSError.check(natsOptions_SetSendAsap(options, true), "send asap")
        try NATSError.check(natsOptions_SetNoRandomize(options, false), "randomize")
        try NATSError.check(natsOptions_SetNoEcho(options, settings.noEcho), "no echo")
        if let file = settings.credentialsFile {
            try NATSError.check(natsOptions_SetUserCredentialsFromFiles(options, file, nil), "credentials \(file)")
        }
        let delay: natsCustomReconnectDelayHandler = { _, attempts, context in
            let wait = min(Int64(250) << Int64(min(max(attempts, 0), 8)), 8000)
            return wait
        }
        try NATSError.check(natsOptions_SetCustomReconnectDelay(options, delay, context), "reconnect delay")
        try NATSError.check(natsOptions_SetRetryOnFailedConnect(options, true, { _, context in
            Unmanaged<Observer>.fromOpaque(context!).takeUnretainedValue().handler(.connected)
        }, context), "retry on failed connect")
        try NATSError.check(natsOptions_SetDisconnectedCB(options, { _, context in
            Unmanaged<Observer>.fromOpaque(context!).takeUnretainedValue().handler(.disconnected)
        }, context), "disconnected callback")
        try NATSError.check(natsOptions_SetReconnectedCB(options, { _, context in
            Unmanaged<Observer>.fromOpaque(context!).takeUnretainedValue().handler(.reconnected)
        }, context), "reconnected callback")
        try NATSError.check(natsOptions_SetClosedCB(options, { _, context in
            Unmanaged<Observer>.fromOpaque(context!).takeUnretainedValue().handler(.closed)
        }, context), "closed callback")
        try NATSError.check(natsOptions_SetErrorHandler(options, { _, _, status, context in
            Unmanaged<Observer>.fromOpaque(context!).takeUnretainedValue().handler(.error(String(cString: natsStatus_GetText(status))))
        }, context), "error handler")
    }

    public var isConnected: Bool {
        closed.withLock { $0 } ? false : natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED
    }

    /// The largest message the server takes (its `max_payload`; 1 MB until first connected).
    public var maxPayload: Int {
        let limit = natsConnection_GetMaxPayload(connection)
        return limit > 0 && limit < Int64(Int32.max) ? Int(limit) : 1 << 20
    }

    /// The server's URL while connected.
    public var connectedURL: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard natsConnection_GetConnectedUrl(connection, &buffer, buffer.count) == NATS_OK else { return nil }
        let url = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return url.isEmpty ? nil : url
    }

    // MARK: Publishing

    /// Publishes (buffered by nats.c while disconnected). `headers` makes it a message with headers.
    public func publish(_ subject: String, _ data: [UInt8], reply: String? = nil, headers: [String: String] = [:]) throws(NATSError) {
        guard data.count <= Int(Int32.max) else { throw NATSError("publish \(subject)", message: "\(data.count) bytes is too large") }
        if headers.isEmpty && reply == nil {
            let status = data.withUnsafeBytes { natsConnection_Publish(connection, subject, $0.baseAddress, Int32($0.count)) }
            try NATSError.check(status, "publish \(subject)")
            return
        }
        var message: OpaquePointer?
        let created = data.withUnsafeBytes {
            natsMsg_Create(&message, subject, reply, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count))
        }
        try NATSError.check(created, "message for \(subject)")
        defer { natsMsg_Destroy(message) }
        for (key, value) in headers { try NATSError.check(natsMsgHeader_Set(message, key, value), "header \(key)") }
        try NATSError.check(natsConnection_PublishMsg(connection, message), "publish \(subject)")
    }

    /// Sends a request and waits for the first answer, on a thread of its own.
    public func request(_ subject: String, _ data: [UInt8], timeoutMs: Int64) async throws(NATSError) -> NATSMessage {
        let result: Result<NATSMessage, NATSError> = await withCheckedContinuation { continuation in
            startThread(name: "planter-nats-request") { [self] in
                continuation.resume(returning: Result { () throws(NATSError) in try self.requestBlocking(subject, data, timeoutMs: timeoutMs) })
                nats_ReleaseThreadMemory()
            }
        }
        return try result.get()
    }

    /// The same, blocking the calling thread (one that is not the concurrency pool's).
    public func requestBlocking(_ subject: String, _ data: [UInt8], timeoutMs: Int64) throws(NATSError) -> NATSMessage {
        guard data.count <= Int(Int32.max) else { throw NATSError("request \(subject)", message: "\(data.count) bytes is too large") }
        var reply: OpaquePointer?
        let status = data.withUnsafeBytes {
            natsConnection_Request(&reply, connection, subject, $0.baseAddress, Int32($0.count), timeoutMs)
        }
        guard status == NATS_OK, let reply else { throw NATSError("request \(subject)", status) }
        defer { natsMsg_Destroy(reply) }
        return NATSMessage(copying: reply, headers: [])
    }

    /// Waits until the server has everything published so far (or the timeout), off the pool.
    public func flush(timeoutMs: Int64 = 2000) async throws(NATSError) {
        let status = await withCheckedContinuation { continuation in
            startThread(name: "planter-nats-flush") { [self] in
                continuation.resume(returning: natsConnection_FlushTimeout(self.connection, timeoutMs))
                nats_ReleaseThreadMemory()
            }
        }
        try NATSError.check(status, "flush")
    }

    // MARK: Subscribing

    /// Calls `handler` for every message on `subject` (wildcards allowed), on this
    /// subscription's nats.c thread, one message at a time; with `queue`, one member of the
    /// group gets each message. `headers`: the header keys to copy into each message.
    public func subscribe(_ subject: String, queue: String? = nil, headers: [String] = [NATSMessage.originHeader],
                          handler: @escaping @Sendable (NATSMessage) -> Void) throws(NATSError) -> NATSSubscription {
        let subscription = try NATSSubscription(connection: connection, subject: subject, queue: queue, headers: headers, handler: handler)
        subscriptions.withLock { $0[ObjectIdentifier(subscription)] = subscription }
        return subscription
    }

    /// Stops a subscription (also done for all of them by `close`).
    public func unsubscribe(_ subscription: NATSSubscription) {
        _ = subscriptions.withLock { $0.removeValue(forKey: ObjectIdentifier(subscription)) }
        subscription.cancel()
    }

    // MARK: Closing

    /// Flushes what is buffered (up to `timeoutMs`), then closes and frees everything. Blocks:
    /// call it off the concurrency pool, or use `shutdown()`.
    public func close(timeoutMs: Int64 = 2000) {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        if natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED { _ = natsConnection_FlushTimeout(connection, timeoutMs) }
        let all = subscriptions.withLock { all in
            defer { all.removeAll() }
            return Array(all.values)
        }
        for subscription in all { subscription.cancel() }
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
        natsOptions_Destroy(options)
        // The observer is kept: nats.c may still deliver the closed callback on its own thread.
        _ = observer
    }

    /// `close()` on a thread of its own.
    public func shutdown(timeoutMs: Int64 = 2000) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            startThread(name: "planter-nats-close") {
                self.close(timeoutMs: timeoutMs)
                nats_ReleaseThreadMemory()
                done.resume()
            }
        }
    }
}
