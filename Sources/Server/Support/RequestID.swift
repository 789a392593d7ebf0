import HTTPTypes
import Hummingbird
import Synchronization

/// Request ids for error answers and the log lines about them: the client's own
/// `X-Request-Id` when it sent a sane one, else this process's prefix and a counter. A
/// counter, not a UUID: /health is benchmarked, and ids are only made for answers that
/// carry one.
final class RequestIDs: Sendable {
    static let header = HTTPField.Name("X-Request-Id")!
    /// Client-sent ids longer than this, or with other than visible ASCII, are replaced.
    static let maximumLength = 128

    /// Tells this process's ids from another's (a restart, a second replica).
    let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        let bits = UInt32.random(in: 0...UInt32.max)
        var hex = String(bits, radix: 16)
        while hex.utf8.count < 8 { hex = "0" + hex }
        prefix = hex
    }

    func next() -> String {
        let number = counter.add(1, ordering: .relaxed).newValue
        return prefix + "-" + String(number)
    }

    /// The id of `request`: its `X-Request-Id` when that is 1–128 visible ASCII characters,
    /// else a new one (a hostile id could otherwise forge log lines or bloat answers).
    func id(of request: Request) -> String {
        if let sent = request.headers[Self.header], !sent.isEmpty, sent.utf8.count <= Self.maximumLength,
            sent.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return sent
        }
        return next()
    }
}
