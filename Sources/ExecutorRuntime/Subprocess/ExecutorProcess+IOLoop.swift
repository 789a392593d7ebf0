import PlanterCore

// The I/O thread of an executor process: one poll() over its pipes, its pidfd, a wake-up pipe
// and the cancel descriptors of the calls in flight (see ExecutorProcess.swift).
import PlanterJSON
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

extension ExecutorProcess {
    func ioLoop() {
        // A write to a dead executor's stdin must give EPIPE, not kill the host.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var fds: [pollfd] = []
        var cancelSlots: [(slot: Int, call: PendingCall)] = []

        while true {
            // What to watch, from the shared state.
            monitor.lock()
            let stopping = stopRequested
            let wantWrite = !outbox.isEmpty
            var pollCancelsByFlag = false
            cancelSlots.removeAll(keepingCapacity: true)
            fds.removeAll(keepingCapacity: true)
            var nextDeadline: Int64? = nil
            for pendingCall in pending.values where !pendingCall.cancelSent {
                if pendingCall.cancelFD >= 0 {
                    cancelSlots.append((fds.count, pendingCall))
                    fds.append(pollfd(fd: pendingCall.cancelFD, events: Int16(POLLIN), revents: 0))
                } else {
                    pollCancelsByFlag = true
                }
            }
            for pendingCall in pending.values {
                if let deadline = pendingCall.cancelDeadline { nextDeadline = min(nextDeadline ?? deadline, deadline) }
            }
            monitor.unlock()

            if stopping && stdinFD >= 0 {
                // Closing stdin is the polite request to stop; a protocol-abiding executor exits on EOF.
                closeStdin()
                if termAt == nil && killAt == nil { termAt = Monitor.monotonicNow() + timing.stopGraceNs }
            }
            let stdoutSlot = add(stdoutFD, Int16(POLLIN), &fds)
            let stderrSlot = add(stderrFD, Int16(POLLIN), &fds)
            let pidSlot = add(pidFD, Int16(POLLIN), &fds)
            let wakeSlot = add(wakeRead, Int16(POLLIN), &fds)
            let stdinSlot = wantWrite ? add(stdinFD, Int16(POLLOUT), &fds) : -1

            for deadline in [termAt, killAt].compactMap({ $0 }) { nextDeadline = min(nextDeadline ?? deadline, deadline) }
            var timeout: Int32 = -1
            if let nextDeadline { timeout = MonotonicTime.pollTimeout(until: nextDeadline) }
            if pidFD < 0 || pollCancelsByFlag { timeout = timeout < 0 ? 20 : min(timeout, 20) }

            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if ready < 0 && errno != EINTR {
                // Cannot watch the child any more: end it rather than leave requests hanging.
                _ = ps_kill_group(pid, SIGKILL)
            }
            if ready > 0 {
                if wakeSlot >= 0 && fds[wakeSlot].revents != 0 { drainWake(buffer) }
                if stdinSlot >= 0 && fds[stdinSlot].revents != 0 { flushOutbox() }
                if stdoutSlot >= 0 && fds[stdoutSlot].revents != 0 { readStdout(buffer) }
                if stderrSlot >= 0 && fds[stderrSlot].revents != 0 { readStderr(buffer) }
                for (slot, pendingCall) in cancelSlots where fds[slot].revents != 0 { sendCancel(pendingCall) }
            }
            if pollCancelsByFlag {
                let flagged = monitor.withLock { pending.values.filter { !$0.cancelSent && $0.cancelFD < 0 && $0.call.isCancelled } }
                for pendingCall in flagged { sendCancel(pendingCall) }
            }
            let now = Monitor.monotonicNow()
            expireCancels(now: now)
            if let at = termAt, now >= at {
                termAt = nil
                _ = ps_kill_group(pid, SIGTERM)
                _ = ps_kill_group(pid, SIGCONT)
                killAt = now + timing.stopGraceNs
            }
            if let at = killAt, now >= at {
                killAt = nil
                _ = ps_kill_group(pid, SIGKILL)
            }
            let exited = pidSlot >= 0 ? fds[pidSlot].revents != 0 : (pidFD < 0 && ps_has_exited(pid) == 1)
            if exited {
                finish(buffer)
                return
            }
        }
    }

    func add(_ fd: Int32, _ events: Int16, _ fds: inout [pollfd]) -> Int {
        guard fd >= 0 else { return -1 }
        fds.append(pollfd(fd: fd, events: events, revents: 0))
        return fds.count - 1
    }

    func drainWake(_ buffer: UnsafeMutableRawBufferPointer) {
        while read(wakeRead, buffer.baseAddress, 256) > 0 {}
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
        monitor.lock()
        let count = outbox.count
        let written = outbox.withUnsafeBytes { Glibc.write(stdinFD, $0.baseAddress, count) }
        let error = errno
        if written > 0 { outbox.removeFirst(written) }
        monitor.unlock()
        if written < 0 && error != EAGAIN && error != EINTR {
            // EPIPE: the executor closed its stdin or died; its exit is handled by the pidfd.
            closeStdin()
        }
    }

    func enqueue(_ message: [UInt8]) {
        monitor.withLock { outbox.append(contentsOf: message) }
    }

    func sendCancel(_ pendingCall: PendingCall) {
        let id = monitor.withLock { () -> String? in
            guard pendingCall.result == nil, !pendingCall.cancelSent else { return nil }
            pendingCall.cancelSent = true
            pendingCall.cancelDeadline = Monitor.monotonicNow() + timing.cancelGraceNs
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

    func readStdout(_ buffer: UnsafeMutableRawBufferPointer) {
        let n = read(stdoutFD, buffer.baseAddress, buffer.count)
        if n > 0 {
            stdoutBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            processStdoutLines(final: false)
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(stdoutFD)
            stdoutFD = -1
            processStdoutLines(final: true)
            // Without stdout no answer can come: stop it (its requests fail when it exits).
            monitor.withLock { requestStopLocked(reason: nil) }
        }
    }

    func readStderr(_ buffer: UnsafeMutableRawBufferPointer) {
        let n = read(stderrFD, buffer.baseAddress, buffer.count)
        if n > 0 {
            stderrBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            processStderrLines(final: false)
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(stderrFD)
            stderrFD = -1
            processStderrLines(final: true)
        }
    }

    /// The process has exited: read what it wrote last, kill what it left behind, reap it,
    /// and fail whatever is still in flight.
    func finish(_ buffer: UnsafeMutableRawBufferPointer) {
        drain(&stdoutFD, buffer) { stdoutBuffer.append(contentsOf: $0) }
        processStdoutLines(final: true)
        drain(&stderrFD, buffer) { stderrBuffer.append(contentsOf: $0) }
        processStderrLines(final: true)
        // The leader is a zombie, so its pid (our pgid and sid) cannot be reused yet. Its group,
        // and every group its children made in its session (a plugin's phases, each a group of
        // its own: after a crash nobody else would stop them).
        _ = ps_kill_group(pid, SIGKILL)
        _ = ps_kill_session(pid, SIGKILL)
        var status = ps_exit_status()
        let reaped = ps_wait(pid, 0, &status) == 1
        closeStdin()
        Self.closeAll([pidFD])
        pidFD = -1

        let reason: String
        if !reaped {
            reason = "exited (status unknown)"
        } else if status.signal != 0 {
            let abbrev = ps_signal_abbrev(status.signal).map { " (SIG" + String(cString: $0) + ")" } ?? ""
            reason = "exited on signal \(status.signal)\(abbrev)" + (status.core_dumped != 0 ? ", core dumped" : "")
        } else {
            reason = "exited with status \(status.exit_code)"
        }
        monitor.lock()
        exitReason = reason
        exitedAt = Monitor.monotonicNow()
        state = .exited
        let failure = stopReason ?? "executor \(name) \(reason)"
        for pendingCall in pending.values { pendingCall.result = .failed(failure) }
        pending.removeAll()
        changed.broadcast()
        monitor.unlock()
    }

    /// Reads until the pipe is empty (bounded: a grandchild that escaped the group may keep it full).
    func drain(_ fd: inout Int32, _ buffer: UnsafeMutableRawBufferPointer, _ sink: (UnsafeRawBufferPointer) -> Void) {
        guard fd >= 0 else { return }
        var reads = 0
        while reads < 1024 {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                sink(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                reads += 1
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(fd)
        fd = -1
    }

    static func closeAll(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { close(fd) }
    }
}
