import CNATS
import Synchronization

/// An async subscription: nats.c calls the handler on the subscription's own thread; the
/// message is copied out and destroyed at once (the handler owns nothing of nats.c's).
public final class NATSSubscription: @unchecked Sendable {
    public let subject: String
    private let handle: Mutex<Handle?>
    /// nats.c's subscription: used under the mutex only.
    struct Handle: @unchecked Sendable { let pointer: OpaquePointer }
    private let context: Unmanaged<Delivery>

    final class Delivery: Sendable {
        let headers: [String]
        let handler: @Sendable (NATSMessage) -> Void
        init(headers: [String], handler: @escaping @Sendable (NATSMessage) -> Void) {
            self.headers = headers
            self.handler = handler
        }
    }

    init(connection: OpaquePointer, subject: String, queue: String?, headers: [String],
         handler: @escaping @Sendable (NATSMessage) -> Void) throws(NATSError) {
        self.subject = subject
        let context = Unmanaged.passRetained(Delivery(headers: headers, handler: handler))
        let callback: natsMsgHandler = { _, _, message, closure in
            guard let message else { return }
            let delivery = Unmanaged<Delivery>.fromOpaque(closure!).takeUnretainedValue()
            let copy = NATSMessage(copying: message, headers: delivery.headers)
            natsMsg_Destroy(message)
            delivery.handler(copy)
        }
        var subscription: OpaquePointer?
        let status = if let queue {
            natsConnection_QueueSubscribe(&subscription, connection, subject, queue, callback, context.toOpaque())
        } else {
            natsConnection_Subscribe(&subscription, connection, subject, callback, context.toOpaque())
        }
        guard status == NATS_OK, let subscription else {
            context.release()
            throw NATSError("subscribe \(subject)", status)
        }
        handle = Mutex(Handle(pointer: subscription))
        self.context = context
    }

    /// Unsubscribes and frees it; messages already handed to nats.c's thread may still arrive
    /// until that thread ends, so the handler's context lives as long as this object.
    func cancel() {
        guard let subscription = handle.withLock({ handle -> OpaquePointer? in
            defer { handle = nil }
            return handle?.pointer
        }) else { return }
        _ = natsSubscription_Unsubscribe(subscription)
        natsSubscription_Destroy(subscription)
    }

    deinit {
        cancel()
        context.release()
    }
}
