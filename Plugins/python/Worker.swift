import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// How to start a worker: the interpreter and its environment, fixed per executor instance.
struct WorkerSettings: Sendable {
    /// The interpreter as configured (a venv's python must keep its path: Python finds
    /// the venv from it); `searchPath` says whether PATH is searched for it.
    var interpreter: String
    var searchPath: Bool
    var maxOutputsBytes: Int
    /// "NAME=value" entries: the host's environment with config.env applied.
    var environment: [String]
}

/// One Python worker process: the leader of its own process group, with its stdout and
/// stderr on pipes and the job channel on a Unix socket that is the worker's fd 3.
final class Worker: @unchecked Sendable {
    // @unchecked: a worker is used by one execute call at a time (the pool hands it out
    // exclusively), so its mutable state is never shared.
    let pid: pid_t
    private(set) var pidFD: Int32
    private(set) var channel: Int32
    private(set) var stdoutFD: Int32
    private(set) var stderrFD: Int32
    private var nextID = 1
    private var reaped = false
    /// Bytes after a reply line (never expected: one job in flight at a time).
    private var pending: [UInt8] = []

    private init(child: ps_child, channel: Int32) {
        pid = child.pid
        self.channel = channel
        stdoutFD = child.stdout_fd
        stderrFD = child.stderr_fd
        pidFD = child.pidfd >= 0 ? child.pidfd : ps_pidfd_open(child.pid)
    }

    deinit { kill() }

    /// Starts a worker; `oneShot` workers exit after their first job.
    static func spawn(_ settings: WorkerSettings, oneShot: Bool) -> Result<Worker, PluginError> {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            return .failure(PluginError("cannot create the worker channel: \(SystemText.error(errno))"))
        }
        let argv = [settings.interpreter, "-u", "-c", pythonWorkerScript, String(settings.maxOutputsBytes),
                    oneShot ? "1" : "0"]
        var child = ps_child()
        let error = withCStrings(argv) { argvp in
            withCStrings(settings.environment) { envp in
                var options = ps_spawn_options(
                    argv: argvp, envp: envp, workdir: nil, search_path: nil,
                    // A worker runs phases itself: if Planter dies (kill -9), so must it, or its
                    // phase would run on beside the one a restart resumes. What the phase's
                    // code starts carries the phase's tag instead (see PythonJob.line).
                    flags: UInt32(PS_SPAWN_PIDFD | PS_SPAWN_DIE_WITH_PARENT) | (settings.searchPath ? UInt32(PS_SPAWN_SEARCH_PATH) : 0))
                var extra: Int32 = pair[1]
                return ps_spawn_with_fds(&options, &extra, 1, &child)
            }
        }
        close(pair[1])
        guard error == 0 else {
            close(pair[0])
            return .failure(PluginError("cannot start \(settings.interpreter): \(SystemText.error(error))"))
        }
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        return .success(Worker(child: child, channel: pair[0]))
    }

    /// True when the process has exited (checked without blocking or reaping).
    var hasExited: Bool {
        if reaped { return true }
        if pidFD >= 0 {
            var fd = pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)
            return poll(&fd, 1, 0) > 0
        }
        return ps_has_exited(pid) == 1
    }

    /// Kills the whole process group, closes every descriptor and reaps the process.
    /// Returns how it ended (nil if it was reaped before).
    @discardableResult
    func kill() -> ps_exit_status? {
        guard !reaped else { return nil }
        _ = ps_kill_group(pid, SIGKILL)
        for fd in [channel, stdoutFD, stderrFD, pidFD] where fd >= 0 { close(fd) }
        channel = -1
        stdoutFD = -1
        stderrFD = -1
        pidFD = -1
        var status = ps_exit_status()
        reaped = true
        return ps_wait(pid, 0, &status) == 1 ? status : nil
    }

    enum Outcome {
        /// The reply line (without its newline).
        case reply([UInt8])
        /// The process exited or closed the channel before replying.
        case died
        case cancelled
        case timedOut
        case replyTooLarge
    }

    var newJobID: Int {
        defer { nextID += 1 }
        return nextID
    }

    /// Sends one job line and waits for its reply, streaming the worker's stdout/stderr
    /// to the host meanwhile: one poll() over the channel, both pipes, the pidfd and the
    /// host's cancel descriptor. No threads, no sleeps.
    func run(job: [UInt8], call: PluginCall, deadlineNs: Int64?, maxReplyBytes: Int) -> Outcome {
        discardStaleOutput()
        var sent = 0
        if !send(job, from: &sent) { return .died }

        let cancelFD = call.cancelFD ?? -1
        if cancelFD < 0 && call.isCancelled { return .cancelled }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }

        return withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 5) { fds -> Outcome in
            while true {
                var count = 0
                var channelSlot = -1, outSlot = -1, errSlot = -1, pidSlot = -1, cancelSlot = -1
                func add(_ fd: Int32, _ events: Int32, _ slot: inout Int) {
                    guard fd >= 0 else { return }
                    fds[count] = pollfd(fd: fd, events: Int16(events), revents: 0)
                    slot = count
                    count += 1
                }
                add(channel, sent < job.count ? Int32(POLLIN | POLLOUT) : Int32(POLLIN), &channelSlot)
                add(stdoutFD, Int32(POLLIN), &outSlot)
                add(stderrFD, Int32(POLLIN), &errSlot)
                add(pidFD, Int32(POLLIN), &pidSlot)
                add(cancelFD, Int32(POLLIN), &cancelSlot)

                var timeout: Int32 = -1
                if let deadlineNs {
                    timeout = Int32(clamping: max(0, (deadlineNs - ps_monotonic_ns() + 999_999) / 1_000_000))
                }
                if pidFD < 0 || cancelFD < 0 { timeout = timeout < 0 ? 20 : min(timeout, 20) }
                let ready = poll(fds.baseAddress, nfds_t(count), timeout)
                if ready < 0 && errno != EINTR { return .died }

                if ready > 0 {
                    if outSlot >= 0 && fds[outSlot].revents != 0 { readOnce(&stdoutFD, .stdout, buffer, call) }
                    if errSlot >= 0 && fds[errSlot].revents != 0 { readOnce(&stderrFD, .stderr, buffer, call) }
                    if channelSlot >= 0 && fds[channelSlot].revents != 0 {
                        let revents = Int32(fds[channelSlot].revents)
                        if revents & Int32(POLLOUT) != 0 && sent < job.count && !send(job, from: &sent) { return .died }
                        if revents & Int32(POLLIN | POLLHUP | POLLERR) != 0 {
                            switch receive(buffer, maxReplyBytes: maxReplyBytes) {
                            case .line(let line):
                                drainOutput(buffer, call)
                                return .reply(line)
                            case .closed:
                                drainOutput(buffer, call)
                                return .died
                            case .tooLarge: return .replyTooLarge
                            case .more: break
                            }
                        }
                    }
                    if cancelSlot >= 0 && fds[cancelSlot].revents != 0 { return .cancelled }
                    if pidSlot >= 0 && fds[pidSlot].revents != 0 {
                        drainOutput(buffer, call)
                        return .died
                    }
                }
                if cancelFD < 0 && call.isCancelled { return .cancelled }
                if pidFD < 0 && ps_has_exited(pid) == 1 {
                    drainOutput(buffer, call)
                    return .died
                }
                if let deadlineNs, ps_monotonic_ns() >= deadlineNs { return .timedOut }
            }
        }
    }

    private func send(_ bytes: [UInt8], from offset: inout Int) -> Bool {
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(channel, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true  // the rest goes out when poll says the socket is writable
            } else {
                return false
            }
        }
        return true
    }

    private enum Received { case line([UInt8]), more, closed, tooLarge }

    private func receive(_ buffer: UnsafeMutableRawBufferPointer, maxReplyBytes: Int) -> Received {
        while true {
            let n = recv(channel, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
                if let newline = chunk.firstIndex(of: 0x0A) {
                    var line = pending
                    line.append(contentsOf: chunk[..<newline])
                    pending = Array(chunk[(newline + 1)...])
                    return .line(line)
                }
                pending.append(contentsOf: chunk)
                if pending.count > maxReplyBytes { return .tooLarge }
                continue
            }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? .more : .closed
        }
    }

    private func readOnce(
        _ fd: inout Int32, _ stream: PluginStream, _ buffer: UnsafeMutableRawBufferPointer, _ call: PluginCall
    ) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n > 0 {
            call.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(fd)
            fd = -1
        }
    }

    /// Everything the worker wrote before its reply is already in the pipes: read it all.
    private func drainOutput(_ buffer: UnsafeMutableRawBufferPointer, _ call: PluginCall) {
        for stream in [PluginStream.stdout, .stderr] {
            let fd = stream == .stdout ? stdoutFD : stderrFD
            guard fd >= 0 else { continue }
            var reads = 0
            while reads < 256 {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    call.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    reads += 1
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
    }

    /// Output that arrived between phases (a thread the last phase left behind) belongs
    /// to no phase: drop it rather than show it in the next one.
    private func discardStaleOutput() {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &scratch) { raw in
            for fd in [stdoutFD, stderrFD] where fd >= 0 {
                while read(fd, raw.baseAddress, raw.count) > 0 {}
            }
        }
    }
}
