import PlanterCore
import Synchronization

/// Turns output chunks into text without splitting UTF-8 sequences: an incomplete sequence at
/// the end of a chunk waits for the next one (invalid bytes become U+FFFD).
final class OutputText: Sendable {
    private let pending = Mutex<[OutputChannel: [UInt8]]>([:])

    func append(_ stream: OutputChannel, _ bytes: UnsafeRawBufferPointer) -> String? {
        pending.withLock { pending -> String? in
            var data = pending[stream] ?? []
            data.append(contentsOf: bytes)
            let complete = Self.completePrefix(data)
            pending[stream] = Array(data[complete...])
            return complete > 0 ? String(decoding: data[..<complete], as: UTF8.self) : nil
        }
    }

    func flush() -> [(OutputChannel, String)] {
        pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.filter { !$0.value.isEmpty }.map { ($0.key, String(decoding: $0.value, as: UTF8.self)) }
        }
    }

    /// The length of `data` without an unfinished multi-byte sequence at its end.
    static func completePrefix(_ data: [UInt8]) -> Int {
        var index = data.count - 1
        var continuation = 0
        while index >= 0 && continuation < 3 && data[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return data.count }
        let lead = data[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > continuation + 1 ? index : data.count
    }
}
