import Synchronization

/// Messages for one waiting thread: others `deliver`, the owner takes them with `next`, which
/// blocks until one comes, a monotonic deadline passes, or `stop` says so (checked every
/// 50 ms, for a cancel that comes from elsewhere). For executors that wait on a network peer
/// (a session's runtime, a remote worker) on the runner's thread.
package final class Mailbox<Message: Sendable>: Sendable {
    private let monitor = Monitor()
    private let arrived: Condition
    private let messages = Mutex<[Message]>([])

    package init() { arrived = Condition(monitor) }

    package func deliver(_ message: Message) {
        messages.withLock { $0.append(message) }
        monitor.withLock { arrived.signal() }
    }

    package func next(until deadline: Int64, stop: () -> Bool) -> Message? {
        while true {
            if let first = messages.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return first }
            let now = Monitor.monotonicNow()
            if now >= deadline || stop() { return nil }
            monitor.withLock {
                if messages.withLock({ $0.isEmpty }) { arrived.wait(untilMonotonic: min(deadline, now + 50_000_000)) }
            }
        }
    }
}
