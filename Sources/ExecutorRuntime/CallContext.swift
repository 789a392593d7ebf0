import PlanterCore
import ProcessSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The host's side of one execute call: where streamed output and logs go, and the
/// cancellation flag the executor watches. Safe to use from any thread.
public final class CallContext: Sendable {
    public typealias OutputHandler = @Sendable (OutputChannel, UnsafeRawBufferPointer) -> Void
    public typealias LogHandler = @Sendable (LogLevel, String) -> Void

    private let cancelled = Atomic<Bool>(false)
    private let cancelReason = Mutex<String?>(nil)
    /// An eventfd taken on first request, so calls that never ask pay nothing. Cancelling
    /// adds 1 to its counter, which makes it readable; nobody ever reads it. One that was
    /// never set goes back to a small pool when the call ends (a plugin may use it only
    /// during the call), so a phase costs no eventfd made or closed.
    private let cancelEvent = Mutex<(fd: Int32, set: Bool)>((-1, false))
    private let outputHandler: OutputHandler?
    private let logHandler: LogHandler?

    public init(output: OutputHandler? = nil, log: LogHandler? = nil) {
        outputHandler = output
        logHandler = log
    }

    deinit {
        let event = cancelEvent.withLock { $0 }
        guard event.fd >= 0 else { return }
        if event.set || !CancelEventPool.put(event.fd) { close(event.fd) }
    }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Why the call was cancelled ("timed out after 2s", "run aborted", …), once it was.
    public var reason: String? { cancelReason.withLock { $0 } }

    /// Cancels the call. The first reason given is kept. Safe to call more than once.
    public func cancel(reason: String = "cancelled") {
        cancelReason.withLock { if $0 == nil { $0 = reason } }
        cancelled.store(true, ordering: .releasing)
        cancelEvent.withLock { event in
            if event.fd >= 0 && !event.set {
                _ = ps_event_set(event.fd)
                event.set = true
            }
        }
    }

    /// A descriptor that becomes readable once cancelled (-1 if one cannot be made).
    public func cancelFD() -> Int32 {
        cancelEvent.withLock { event in
            if event.fd < 0 {
                event.fd = CancelEventPool.take() ?? ps_event_open()
                if event.fd >= 0 && cancelled.load(ordering: .acquiring) {
                    _ = ps_event_set(event.fd)
                    event.set = true
                }
            }
            return event.fd
        }
    }

    public func output(_ stream: OutputChannel, _ bytes: UnsafeRawBufferPointer) { outputHandler?(stream, bytes) }

    public func log(_ level: LogLevel, _ message: String) { logHandler?(level, message) }
}

/// Cancel eventfds that were never set, for the next calls (a handful: one per call in flight).
private enum CancelEventPool {
    private static let idle = Mutex<[Int32]>([])
    private static let limit = 64

    static func take() -> Int32? { idle.withLock { $0.popLast() } }

    /// False when the pool is full: the caller closes it.
    static func put(_ fd: Int32) -> Bool {
        idle.withLock { fds in
            guard fds.count < limit else { return false }
            fds.append(fd)
            return true
        }
    }
}
