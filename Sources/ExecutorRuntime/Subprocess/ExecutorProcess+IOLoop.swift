internal import ExecutorKit
import PlanterCore
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

// The I/O thread of an executor process: ExecutorKit's ChildWatcher (the one child-process
// watch loop every plugin uses) over its pipes and pidfd, with what an executor process adds
// as the watch's client: a wake-up pipe, stdin while the outbox has bytes, and the cancel
// descriptor of every call in flight (see ExecutorProcess.swift).

extension ExecutorProcess {
    func ioLoop() {
        // A write to a dead executor's stdin must give EPIPE, not kill the host.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        var io = ExecutorIO(process: self)
        var watcher = ChildWatcher(call: nil, deadlineNs: nil, drainReads: 1024, readSize: Self.readSize)
        // Closing stdin asks politely; a stopGrace later TERM, and another later KILL.
        var stop = GroupSignals(graceNs: timing.stopGraceNs)
        // .exited, or .lost (poll failed: the group got SIGKILL); either way it is reaped below.
        _ = watcher.run(&child, client: &io, escalation: &stop)
        finish()
    }

    func drainWake() {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &scratch, { read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    func closeStdin() {
        guard stdinFD >= 0 else { return }
        close(stdinFD)
        stdinFD = -1
        monitor.withLock { outbox.removeAll() }
    }

    /// Writes as much of the outbox as the pipe takes.
    func flushOutbox() {
        guard stdinFD >= 0 else { return }
        let fd = stdinFD
        // EPIPE: the executor closed its stdin or died; its exit is seen through the pidfd.
        if !monitor.withLock({ outbox.flush(to: fd) }) { closeStdin() }
    }

    func enqueue(_ message: [UInt8]) {
        monitor.withLock { outbox.append(message) }
    }

    func sendCancel(_ pendingCall: PendingCall) {
        let id = monitor.withLock { () -> String? in
            guard pendingCall.result == nil, !pendingCall.cancelSent else { return nil }
            pendingCall.cancelSent = true
            pendingCall.cancelDeadline = MonotonicTime.now() + timing.cancelGraceNs
            return pendingCall.id
        }
        if let id { enqueue(SubprocessProtocol.cancelMessage(id: id)) }
    }

    func expireCancels(now: Int64) {
        monitor.lock()
        var expired = false
        for (id, pendingCall) in pending {
            guard let deadline = pendingCall.cancelDeadline, now >= deadline else { continue }
            pending[id] = nil
            let grace = formatNs(timing.cancelGraceNs)
            pendingCall.result = ExecuteResult(
                status: .cancelled,
                message: "\(pendingCall.call.reason ?? "cancelled"); executor \(name) did not answer the cancel within \(grace)")
            expired = true
        }
        if expired { changed.broadcast() }
        monitor.unlock()
    }

    /// The process has exited (the watcher killed its group and read what it wrote last): kill
    /// what it left in its session, reap it, and fail whatever is still in flight.
    func finish() {
        processStdoutLines(final: true)
        processStderrLines(final: true)
        // The leader is a zombie until reaped, so its pid (our pgid and sid) cannot be reused
        // yet: every group its children made in its session (a plugin's phases, each a group of
        // its own) is stopped too, since after a crash nobody else would.
        _ = ps_kill_session(pid, SIGKILL)
        let status = child.killAndReap()
        closeStdin()

        let reason: String
        if let status {
            if status.signal != 0 {
                let abbrev = ps_signal_abbrev(status.signal).map { " (SIG" + String(cString: $0) + ")" } ?? ""
                reason = "exited on signal \(status.signal)\(abbrev)" + (status.core_dumped != 0 ? ", core dumped" : "")
            } else {
                reason = "exited with status \(status.exit_code)"
            }
        } else {
            reason = "exited (status unknown)"
        }
        monitor.lock()
        exitReason = reason
        exitedAt = MonotonicTime.now()
        state = .exited
        let failure = stopReason ?? "executor \(name) \(reason)"
        for pendingCall in pending.values { pendingCall.result = .failed(failure) }
        pending.removeAll()
        changed.broadcast()
        monitor.unlock()
    }
}

/// What an executor process adds to the child watch: its output parsed as protocol lines, the
/// wake-up pipe, stdin while there is something to send, the cancel descriptors of the calls
/// in flight (or their flags, looked at), cancel answers that are overdue, and the stop: stdin
/// closed first, the escalation a grace later (or at once after a protocol violation).
struct ExecutorIO: ChildWatchClient {
    let process: ExecutorProcess
    private var cancelSlots: [(slot: Int, call: ExecutorProcess.PendingCall)] = []
    private var looksAtFlags = false
    private var wakeSlot = -1
    private var stdinSlot = -1
    /// When to start the escalation after a stop was asked for (stdin closed).
    private var terminateAt: Int64?

    init(process: ExecutorProcess) { self.process = process }

    mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {
        switch stream {
        case .stdout:
            process.stdoutBuffer.append(contentsOf: bytes)
            process.processStdoutLines(final: false)
        case .stderr:
            process.stderrBuffer.append(contentsOf: bytes)
            process.processStderrLines(final: false)
        }
    }

    mutating func outputClosed(_ stream: PluginStream) {
        switch stream {
        case .stdout:
            process.processStdoutLines(final: true)
            // Without stdout no answer can come: stop it (its requests fail when it exits).
            process.monitor.withLock { process.requestStopLocked(reason: nil) }
        case .stderr:
            process.processStderrLines(final: true)
        }
    }

    mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake {
        let process = self.process
        process.monitor.lock()
        let stopping = process.stopRequested
        let wantWrite = !process.outbox.isEmpty
        looksAtFlags = false
        cancelSlots.removeAll(keepingCapacity: true)
        var next: Int64? = nil
        for pendingCall in process.pending.values {
            if let deadline = pendingCall.cancelDeadline { next = min(next ?? deadline, deadline) }
            guard !pendingCall.cancelSent else { continue }
            if pendingCall.cancelFD >= 0 {
                cancelSlots.append((fds.add(pendingCall.cancelFD), pendingCall))
            } else {
                looksAtFlags = true
            }
        }
        process.monitor.unlock()

        if stopping && process.stdinFD >= 0 {
            // Closing stdin is the polite request to stop; a protocol-abiding executor exits on EOF.
            process.closeStdin()
            if terminateAt == nil { terminateAt = MonotonicTime.now() + process.timing.stopGraceNs }
        }
        wakeSlot = fds.add(process.wakeRead)
        stdinSlot = wantWrite ? fds.add(process.stdinFD, events: Int16(POLLOUT)) : -1
        if let terminateAt { next = min(next ?? terminateAt, terminateAt) }
        return ChildWatcher.Wake(atNs: next, looks: looksAtFlags)
    }

    mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step {
        if fds.isReady(wakeSlot) { process.drainWake() }
        if fds.isReady(stdinSlot) { process.flushOutbox() }
        for (slot, pendingCall) in cancelSlots where fds.isReady(slot) { process.sendCancel(pendingCall) }
        if looksAtFlags {
            let flagged = process.monitor.withLock {
                process.pending.values.filter { !$0.cancelSent && $0.cancelFD < 0 && $0.call.isCancelled }
            }
            for pendingCall in flagged { process.sendCancel(pendingCall) }
        }
        process.expireCancels(now: now)
        if process.brokeProtocol { return .terminate }  // TERM now, KILL a grace later
        if let terminateAt, now >= terminateAt {
            self.terminateAt = .max  // asked once; the escalation takes it from here
            return .terminate
        }
        return .proceed
    }
}
