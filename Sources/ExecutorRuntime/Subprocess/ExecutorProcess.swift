internal import ExecutorKit
import PlanterCore
import PlanterJSON
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// One running executor process (one "generation" of a SubprocessExecutor): its pipes, the
/// requests in flight, and one I/O thread that does all reading and writing. The thread polls the
/// child's stdout, stderr and pidfd, a wake-up pipe, stdin (while there is something to send) and
/// the cancel descriptor of every request in flight, so nothing spins and callers only wait on a
/// condition. When the process dies, every request still in flight fails with how it died.
final class ExecutorProcess: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `monitor`; the fields marked "I/O thread" are
    // touched only by the I/O thread once it has started.

    enum State: Equatable {
        /// Spawned; waiting for the handshake and the answer to configure.
        case starting
        case ready
        /// Reaped. `exitReason` says how it ended.
        case exited
    }

    struct Timing: Sendable {
        var stopGraceNs: Int64
        var cancelGraceNs: Int64
    }

    final class PendingCall {
        let id: String
        let call: CallContext
        let cancelFD: Int32
        var cancelSent = false
        var cancelDeadline: Int64?
        var result: ExecuteResult?

        init(id: String, call: CallContext, cancelFD: Int32) {
            self.id = id
            self.call = call
            self.cancelFD = cancelFD
        }
    }

    let name: String
    let commandLine: String
    let pid: pid_t
    let timing: Timing
    let log: @Sendable (LogLevel, String) -> Void

    let monitor = Monitor()
    let changed: Condition

    // Guarded by monitor.
    var state = State.starting
    var handshake: SubprocessProtocol.Handshake?
    /// Why the start failed (version mismatch, configure refused, no handshake, died first).
    var startError: String?
    /// "exited with status 3", "exited on signal 11 (SIGSEGV)".
    var exitReason: String?
    /// Set when the host stopped the process on purpose (with why), so calls fail with that reason.
    var stopReason: String?
    var exitedAt: Int64?
    var completedCalls = 0
    var pending: [String: PendingCall] = [:]
    var outbox = Outbox()
    var nextID: UInt64 = 1
    var stopRequested = false
    var config: JSON
    /// The last lines the executor wrote to stderr, for start-up error messages.
    var stderrTail: [String] = []

    // I/O thread only.
    /// The process (its output pipes and pidfd; stdin is kept apart, in `stdinFD`).
    var child: ChildProcess
    var stdinFD: Int32
    let wakeRead: Int32
    let wakeWrite: Int32
    var stdoutBuffer: [UInt8] = []
    var stderrBuffer: [UInt8] = []
    /// Set by protocolViolation: the watch ends the process now.
    var brokeProtocol = false

    static let readSize = 64 * 1024

    /// Takes ownership of the child's descriptors and starts the I/O thread.
    init(name: String, commandLine: String, child: ps_child, config: JSON, timing: Timing,
         log: @escaping @Sendable (LogLevel, String) -> Void) throws(SubprocessError) {
        self.name = name
        self.commandLine = commandLine
        self.config = config
        self.timing = timing
        self.log = log
        pid = child.pid
        var process = ChildProcess(child)
        stdinFD = process.stdinFD
        process.stdinFD = -1
        changed = Condition(monitor)
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else {
            let reason = String(cString: strerror(errno))
            if stdinFD >= 0 { close(stdinFD) }
            process.killAndReap()
            throw SubprocessError("cannot start executor \(name): pipe: \(reason)")
        }
        self.child = process
        for fd in wake {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        wakeRead = wake[0]
        wakeWrite = wake[1]
        // Writes never block the I/O thread: a stuck executor must not stop it from noticing cancels.
        if stdinFD >= 0 { _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK) }
        startThread(name: "planter-subprocess-io") { [self] in ioLoop() }
    }

    deinit {
        // The wake pipe lives as long as this object, so a late wake() never writes to a reused fd.
        close(wakeRead)
        close(wakeWrite)
    }

    // MARK: Callers

    /// Waits (up to the monotonic deadline, polling `call` for cancellation) until the process has
    /// answered configure. Returns nil when ready, or why it is not.
    func waitUntilReady(deadline: Int64, call: CallContext?, timeoutMessage: String) -> String? {
        monitor.lock()
        defer { monitor.unlock() }
        while state == .starting && startError == nil {
            if call?.isCancelled == true { return "cancelled while executor \(name) was starting" }
            let now = Monitor.monotonicNow()
            if now >= deadline {
                startError = timeoutMessage
                break
            }
            changed.wait(untilMonotonic: min(deadline, now + 20_000_000))
        }
        if state == .ready && startError == nil { return nil }
        let reason = startError ?? startFailureFromExit()
        requestStopLocked(reason: nil)
        return reason
    }

    func startFailureFromExit() -> String {
        var text = "executor \(name) \(exitReason ?? "stopped") before it was ready (command: \(commandLine))"
        if !stderrTail.isEmpty { text += "; stderr: " + stderrTail.joined(separator: " | ") }
        return text
    }

    var isUsable: Bool { monitor.withLock { state == .ready && !stopRequested } }

    var concurrent: Bool { monitor.withLock { handshake?.concurrent ?? false } }

    /// Sends one request and waits for its result. Cancellation of `call` is sent to the executor
    /// by the I/O thread; if the executor does not answer within the cancel grace, the call ends
    /// as cancelled anyway and a late result is ignored.
    func execute(_ requestJSON: [UInt8], call: CallContext) -> ExecuteResult {
        let cancelFD = call.cancelFD()
        monitor.lock()
        guard state == .ready, !stopRequested else {
            let reason = exitReason.map { "executor \(name) \($0)" } ?? "executor \(name) is stopping"
            monitor.unlock()
            return .failed(reason)
        }
        let id = String(nextID)
        nextID += 1
        let pendingCall = PendingCall(id: id, call: call, cancelFD: cancelFD)
        pending[id] = pendingCall
        outbox.append(SubprocessProtocol.executeMessage(id: id, request: requestJSON))
        monitor.unlock()
        wake()
        monitor.lock()
        while pendingCall.result == nil { changed.wait() }
        let result = pendingCall.result!
        monitor.unlock()
        return result
    }

    /// Starts the teardown: close stdin, then TERM the process group after the grace, then KILL.
    /// `reason` (when given) becomes the failure of the requests still in flight.
    func requestStop(reason: String?) {
        monitor.withLock { requestStopLocked(reason: reason) }
        wake()
    }

    func requestStopLocked(reason: String?) {
        if stopReason == nil, let reason { stopReason = reason }
        stopRequested = true
        if state != .exited { wake() }
    }

    /// Waits until the process has been reaped, or the deadline passes. True if it has.
    @discardableResult
    func waitForExit(deadline: Int64) -> Bool {
        monitor.lock()
        defer { monitor.unlock() }
        while state != .exited {
            if Monitor.monotonicNow() >= deadline { return false }
            changed.wait(untilMonotonic: deadline)
        }
        return true
    }

    func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }
}

/// A start or configuration failure of a subprocess executor, with a message for the phase.
struct SubprocessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func formatNs(_ ns: Int64) -> String {
    let ms = ns / 1_000_000
    if ms >= 1000 && ms % 1000 == 0 { return "\(ms / 1000) s" }
    return "\(ms) ms"
}
