import Synchronization

/// Tells the requests that wait on purpose (`GET /runs?waitAfter=`) that the graceful shutdown
/// has begun. The HTTP server is the last service to stop and lets every request in progress
/// finish first, so a request still waiting for a run that can no longer start would hold the
/// exit back until its own timeout. ServiceShutdown calls `begin()` as soon as the shutdown starts.
final class ShutdownNotice: Sendable {
    private struct Waiters {
        var begun = false
        var next = 0
        var continuations: [Int: AsyncStream<Never>.Continuation] = [:]
    }

    private let waiters = Mutex(Waiters())

    var hasBegun: Bool { waiters.withLock { $0.begun } }

    func begin() {
        let continuations = waiters.withLock { waiters -> [AsyncStream<Never>.Continuation] in
            waiters.begun = true
            defer { waiters.continuations = [:] }
            return Array(waiters.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }

    /// Returns once the shutdown has begun, or the task is cancelled.
    func wait() async {
        let (stream, continuation) = AsyncStream<Never>.makeStream()
        let id = waiters.withLock { waiters in
            defer { waiters.next += 1 }
            return waiters.next
        }
        // Set before the waiter is listed: a cancelled request leaves nothing behind.
        continuation.onTermination = { [weak self] _ in
            _ = self?.waiters.withLock { $0.continuations.removeValue(forKey: id) }
        }
        let begun = waiters.withLock { waiters in
            if !waiters.begun { waiters.continuations[id] = continuation }
            return waiters.begun
        }
        if begun { return }
        for await _ in stream {}
    }
}
