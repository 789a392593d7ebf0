import CNATS

/// A nats.c call that failed: which call, its status text, and the library's last error.
public struct NATSError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let status: Int32
    public let text: String

    init(_ operation: String, _ status: natsStatus) {
        self.operation = operation
        self.status = Int32(status.rawValue)
        let statusText = String(cString: natsStatus_GetText(status))
        let last = nats_GetLastError(nil).map { String(cString: $0) } ?? ""
        text = last.isEmpty || last == statusText ? statusText : "\(statusText): \(last)"
    }

    /// An error of this module's own (bad settings), not of a nats.c call.
    init(_ operation: String, message: String) {
        self.operation = operation
        status = -1
        text = message
    }

    public var isTimeout: Bool { status == Int32(NATS_TIMEOUT.rawValue) }
    public var isNoResponders: Bool { status == Int32(NATS_NO_RESPONDERS.rawValue) }
    public var description: String { "NATS \(operation): \(text)" }

    /// Throws unless `status` is NATS_OK.
    static func check(_ status: natsStatus, _ operation: @autoclosure () -> String) throws(NATSError) {
        if status != NATS_OK { throw NATSError(operation(), status) }
    }
}
