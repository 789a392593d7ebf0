import CNATS

/// A message as Planter sees it: copied out of nats.c's (which is destroyed at once), so it
/// can cross threads and outlive the handler.
public struct NATSMessage: Sendable {
    public var subject: String
    /// Where an answer goes (request/reply), if the sender wants one.
    public var reply: String?
    public var data: [UInt8]
    /// Only the headers Planter reads (nats.c has no way to list them in 3.4.1).
    public var headers: [String: String]

    public init(subject: String, reply: String? = nil, data: [UInt8], headers: [String: String] = [:]) {
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers = headers
    }

    /// Set on every `.start` a Planter publishes, naming it; no Planter takes such a message as
    /// input (NoEcho covers one connection only: standbys and peers would see it too).
    public static let originHeader = "Planter-Origin"

    /// `headers`: the keys to look up (nats.c 3.4.1 cannot list a message's headers).
    init(copying message: OpaquePointer, headers keys: [String]) {
        subject = String(cString: natsMsg_GetSubject(message))
        reply = natsMsg_GetReply(message).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let count = Int(max(0, natsMsg_GetDataLength(message)))
        if count > 0, let bytes = natsMsg_GetData(message) {
            data = bytes.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
        } else {
            data = []
        }
        var headers: [String: String] = [:]
        for key in keys {
            var value: UnsafePointer<CChar>?
            if natsMsgHeader_Get(message, key, &value) == NATS_OK, let value { headers[key] = String(cString: value) }
        }
        self.headers = headers
    }
}
