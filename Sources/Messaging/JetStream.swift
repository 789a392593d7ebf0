import CNATS
import PlanterCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// JetStream over one connection: the streams and durable pull consumers Planter's worker
/// pools use, publishing with a message id (duplicates within the stream's window are
/// dropped by the server), and pull subscriptions. Every call blocks (a request to the
/// server): make them on a thread of your own.
public final class JetStream: @unchecked Sendable {
    private let context: OpaquePointer
    public let connection: NATSConnection

    public init(_ connection: NATSConnection, timeoutMs: Int64 = 5000) throws(NATSError) {
        var options = jsOptions()
        try NATSError.check(jsOptions_Init(&options), "jetstream options")
        options.Wait = timeoutMs
        var context: OpaquePointer?
        try NATSError.check(natsConnection_JetStream(&context, connection.connection, &options), "jetstream")
        guard let context else { throw NATSError("jetstream", message: "no context") }
        self.context = context
        self.connection = connection
    }

    deinit { jsCtx_Destroy(context) }

    public enum Retention: Sendable { case workQueue, limits }

    /// Creates the stream, or updates it to this configuration when it exists.
    public func ensureStream(_ name: String, subjects: [String], retention: Retention, maxAgeNs: Int64 = 0,
                             duplicatesNs: Int64 = 120_000_000_000) throws(NATSError) {
        var config = jsStreamConfig()
        try NATSError.check(jsStreamConfig_Init(&config), "stream config")
        let status: natsStatus = name.withCString { namePointer in
            withCStrings(subjects) { subjectPointers in
                config.Name = namePointer
                config.Subjects = subjectPointers
                config.SubjectsLen = Int32(subjects.count)
                config.Retention = retention == .workQueue ? js_WorkQueuePolicy : js_LimitsPolicy
                config.Storage = js_FileStorage
                config.MaxAge = maxAgeNs
                config.Duplicates = duplicatesNs
                var info: UnsafeMutablePointer<jsStreamInfo>?
                var code = jsErrCode(0)
                var status = js_AddStream(&info, context, &config, nil, &code)
                if status != NATS_OK && code == JSStreamNameExistErr {
                    status = js_UpdateStream(&info, context, &config, nil, &code)
                }
                if let info { jsStreamInfo_Destroy(info) }
                return status
            }
        }
        try NATSError.check(status, "stream \(name)")
    }

    /// A durable pull consumer: explicit acks, `ackWaitNs` before the server considers a
    /// delivery lost, at most `maxDeliver` deliveries, at most `maxAckPending` unacknowledged.
    public func ensureConsumer(stream: String, durable: String, filter: String, ackWaitNs: Int64, maxDeliver: Int64,
                               maxAckPending: Int64) throws(NATSError) {
        var config = jsConsumerConfig()
        try NATSError.check(jsConsumerConfig_Init(&config), "consumer config")
        let status: natsStatus = durable.withCString { durablePointer in
            filter.withCString { filterPointer in
                config.Durable = durablePointer
                config.FilterSubject = filterPointer
                config.AckPolicy = js_AckExplicit
                config.DeliverPolicy = js_DeliverAll
                config.AckWait = ackWaitNs
                config.MaxDeliver = maxDeliver
                config.MaxAckPending = maxAckPending
                var info: UnsafeMutablePointer<jsConsumerInfo>?
                var code = jsErrCode(0)
                let status = js_AddConsumer(&info, context, stream, &config, nil, &code)
                if let info { jsConsumerInfo_Destroy(info) }
                // An existing durable with another configuration is kept: consumers are updated by deleting them.
                return status != NATS_OK && code == JSConsumerNameExistErr ? NATS_OK : status
            }
        }
        try NATSError.check(status, "consumer \(durable) on \(stream)")
    }

    /// Publishes and waits for the stream's acknowledgement; the stream sequence, and whether it
    /// was a duplicate of an earlier message with the same `messageId`.
    @discardableResult
    public func publish(_ subject: String, _ data: [UInt8], messageId: String?, headers: [String: String] = [:])
        throws(NATSError) -> (sequence: UInt64, duplicate: Bool)
    {
        guard data.count <= Int(Int32.max) else { throw NATSError("publish \(subject)", message: "\(data.count) bytes is too large") }
        var message: OpaquePointer?
        let created = data.withUnsafeBytes {
            natsMsg_Create(&message, subject, nil, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count))
        }
        try NATSError.check(created, "message for \(subject)")
        defer { natsMsg_Destroy(message) }
        for (key, value) in headers { try NATSError.check(natsMsgHeader_Set(message, key, value), "header \(key)") }
        var options = jsPubOptions()
        try NATSError.check(jsPubOptions_Init(&options), "publish options")
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(0)
        let status: natsStatus = if let messageId {
            messageId.withCString { id in
                options.MsgId = id
                return js_PublishMsg(&ack, context, message, &options, &code)
            }
        } else {
            js_PublishMsg(&ack, context, message, &options, &code)
        }
        defer { if let ack { jsPubAck_Destroy(ack) } }
        try NATSError.check(status, "publish \(subject)")
        return (ack?.pointee.Sequence ?? 0, ack?.pointee.Duplicate ?? false)
    }

    /// Removes one message (a work item nobody took, or one left behind by a lost worker).
    public func deleteMessage(stream: String, sequence: UInt64) throws(NATSError) {
        var code = jsErrCode(0)
        try NATSError.check(js_DeleteMsg(context, stream, sequence, nil, &code), "delete \(stream) #\(sequence)")
    }

    /// Binds an existing durable pull consumer.
    public func pullSubscription(stream: String, consumer: String, subject: String) throws(NATSError) -> PullSubscription {
        var options = jsSubOptions()
        try NATSError.check(jsSubOptions_Init(&options), "subscribe options")
        var subscription: OpaquePointer?
        var code = jsErrCode(0)
        let status = stream.withCString { streamPointer in
            consumer.withCString { consumerPointer in
                options.Stream = streamPointer
                options.Consumer = consumerPointer
                return js_PullSubscribe(&subscription, context, subject, consumer, nil, &options, &code)
            }
        }
        try NATSError.check(status, "pull subscribe \(consumer) on \(stream)")
        guard let subscription else { throw NATSError("pull subscribe", message: "no subscription") }
        return PullSubscription(subscription)
    }
}

/// A pull subscription: `fetch` asks for up to `batch` messages and waits up to the timeout
/// (it may return early with none: nats.c 3.4.1's Fetch can end on a stale 408, so loop).
public final class PullSubscription: @unchecked Sendable {
    private let handle: OpaquePointer
    private let closed = Mutex(false)

    init(_ handle: OpaquePointer) { self.handle = handle }

    public func fetch(batch: Int, timeoutMs: Int64) throws(NATSError) -> [JetStreamMessage] {
        guard !closed.withLock({ $0 }) else { throw NATSError("fetch", message: "the subscription is closed") }
        var list = natsMsgList()
        var code = jsErrCode(0)
        let status = natsSubscription_Fetch(&list, handle, Int32(max(1, min(batch, 256))), timeoutMs, &code)
        if status == NATS_TIMEOUT { return [] }
        try NATSError.check(status, "fetch")
        defer { natsMsgList_Destroy(&list) }
        var messages: [JetStreamMessage] = []
        for index in 0..<Int(max(0, list.Count)) {
            guard let message = list.Msgs[index] else { continue }
            list.Msgs[index] = nil  // ours now: natsMsgList_Destroy skips it
            messages.append(JetStreamMessage(message))
        }
        return messages
    }

    /// Unsubscribes (the durable consumer stays on the server).
    public func close() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        natsSubscription_Destroy(handle)
    }

    deinit { close() }
}

/// A message fetched from a stream, to acknowledge (or not) once handled.
public final class JetStreamMessage: @unchecked Sendable {
    private let handle: OpaquePointer
    public let message: NATSMessage
    /// The stream sequence and the delivery count (1 for the first delivery).
    public let streamSequence: UInt64
    public let deliveries: UInt64

    init(_ handle: OpaquePointer) {
        self.handle = handle
        message = NATSMessage(copying: handle, headers: [])
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, handle) == NATS_OK, let meta {
            streamSequence = meta.pointee.Sequence.Stream
            deliveries = meta.pointee.NumDelivered
            jsMsgMetaData_Destroy(meta)
        } else {
            streamSequence = 0
            deliveries = 0
        }
    }

    deinit { natsMsg_Destroy(handle) }

    /// Acknowledges and waits for the server to confirm (the work item is then gone).
    public func ack(timeoutMs: Int64 = 5000) throws(NATSError) {
        var options = jsOptions()
        jsOptions_Init(&options)
        options.Wait = timeoutMs
        var code = jsErrCode(0)
        try NATSError.check(natsMsg_AckSync(handle, &options, &code), "ack")
    }

    /// "Still working on it": restarts the ack wait; confirmed by the server (`timeoutMs`), so a
    /// worker knows its lease was renewed.
    public func inProgress(timeoutMs: Int64 = 2000) throws(NATSError) {
        var options = jsOptions()
        jsOptions_Init(&options)
        options.Wait = timeoutMs
        try NATSError.check(natsMsg_InProgress(handle, &options), "in progress")
    }

    /// Never deliver it again (a message this worker cannot take: another protocol version).
    public func terminate() throws(NATSError) {
        try NATSError.check(natsMsg_Term(handle, nil), "terminate")
    }
}

/// Runs `body` with the strings as a C array that lives as long as the call.
func withCStrings<T>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies = strings.map { UnsafePointer(strdup($0)) }
    defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    var array = copies
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
