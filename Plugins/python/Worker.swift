import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// One Python worker process: the leader of its own process group, with its stdout and
/// stderr on pipes and the job channel on a Unix socket that is the worker's fd 3.
final class Worker: @unchecked Sendable {
    // @unchecked: a worker is used by one execute call at a time (the pool hands it out
    // exclusively), so its mutable state is never shared.
    private var child: ChildProcess
    private(set) var channel: Int32
    private var nextID = 1
    /// Bytes after a reply line (never expected: one job in flight at a time).
    private var pending: [UInt8] = []

    var pid: pid_t { child.pid }

    private init(child: ChildProcess, channel: Int32) {
        self.child = child
        self.channel = channel
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
        // A worker runs phases itself: if Planter dies (kill -9), so must it, or its phase would
        // run on beside the one a restart resumes. What the phase's code starts carries the
        // phase's tag instead (see PythonJob.line).
        let flags = UInt32(PS_SPAWN_PIDFD | PS_SPAWN_DIE_WITH_PARENT) | (settings.searchPath ? UInt32(PS_SPAWN_SEARCH_PATH) : 0)
        let spawned = withCStrings(settings.environment) { envp in
            ChildProcess.spawn(argv, envp: envp, flags: flags, extraFDs: [pair[1]])
        }
        close(pair[1])
        switch spawned {
        case .failure(let error):
            close(pair[0])
            return .failure(PluginError("cannot start \(settings.interpreter): \(SystemText.error(error.code))"))
        case .success(let child):
            _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
            return .success(Worker(child: child, channel: pair[0]))
        }
    }

    /// True when the process has exited (checked without blocking or reaping).
    var hasExited: Bool { child.hasExited }

    /// Kills the whole process group, closes every descriptor and reaps the process.
    /// Returns how it ended (nil if it was reaped before).
    @discardableResult
    func kill() -> ps_exit_status? {
        if channel >= 0 { close(channel) }
        channel = -1
        return child.killAndReap()
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

    /// Sends one job line and waits for its reply, streaming the worker's stdout/stderr to
    /// the host meanwhile: a ChildWatcher over both pipes, the pidfd and the host's cancel
    /// descriptor, with the channel as the watch's own descriptor. No threads, no sleeps.
    /// Cancellation and the deadline end the watch at once: the caller kills the worker.
    func run(job: [UInt8], call: PluginCall, deadlineNs: Int64?, maxReplyBytes: Int) -> Outcome {
        discardStaleOutput()
        if call.isCancelled { return .cancelled }
        var jobChannel = JobChannel(call: call, fd: channel, pending: pending, maxReplyBytes: maxReplyBytes)
        jobChannel.outbox.append(job)
        if !jobChannel.outbox.flush(to: channel) { return .died }

        // Everything the worker wrote before its reply is already in the pipes: read it all.
        var watcher = ChildWatcher(call: call, deadlineNs: deadlineNs, drainReads: 256)
        let end = watcher.run(&child, client: &jobChannel)
        pending = jobChannel.pending
        switch end {
        case .stopped: return jobChannel.outcome ?? .died
        case .exited, .lost: return .died
        case .cancelled: return .cancelled
        case .timedOut: return .timedOut
        }
    }

    /// Output that arrived between phases (a thread the last phase left behind) belongs
    /// to no phase: drop it rather than show it in the next one.
    private func discardStaleOutput() {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &scratch) { raw in
            for fd in [child.stdoutFD, child.stderrFD] where fd >= 0 {
                while read(fd, raw.baseAddress, raw.count) > 0 {}
            }
        }
    }
}

/// The job channel during one job: the job line goes out as the socket takes it, the reply
/// line comes back; the worker's output goes to the host.
private struct JobChannel: ChildWatchClient {
    let call: PluginCall
    let fd: Int32
    var pending: [UInt8]
    let maxReplyBytes: Int
    var outbox = Outbox(socket: true)
    var outcome: Worker.Outcome?
    private var slot = -1

    init(call: PluginCall, fd: Int32, pending: [UInt8], maxReplyBytes: Int) {
        self.call = call
        self.fd = fd
        self.pending = pending
        self.maxReplyBytes = maxReplyBytes
    }

    func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) { call.output(stream, bytes) }

    mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake {
        slot = fds.add(fd, events: Int16(POLLIN) | outbox.events)
        return .never
    }

    mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step {
        let revents = Int32(fds.revents(slot))
        if revents & Int32(POLLOUT) != 0 && !outbox.isEmpty && !outbox.flush(to: fd) { return stop(.died, drain: false) }
        guard revents & Int32(POLLIN | POLLHUP | POLLERR) != 0 else { return .proceed }
        switch receive() {
        case .line(let line): return stop(.reply(line), drain: true)
        case .closed: return stop(.died, drain: true)
        case .tooLarge: return stop(.replyTooLarge, drain: false)
        case .more: return .proceed
        }
    }

    private mutating func stop(_ outcome: Worker.Outcome, drain: Bool) -> ChildWatcher.Step {
        self.outcome = outcome
        return .stop(drain: drain)
    }

    private enum Received { case line([UInt8]), more, closed, tooLarge }

    private mutating func receive() -> Received {
        withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 16) { buffer -> Received in
            while true {
                let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
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
    }
}

/// How a worker ended, for messages: "exited with code 3", "was killed by signal SIGKILL".
func describeExit(_ status: ps_exit_status?) -> String {
    guard let status else { return "ended (status unknown)" }
    if status.signal != 0 {
        return "was killed by signal " + SystemText.signal(status.signal) + (status.core_dumped != 0 ? " (core dumped)" : "")
    }
    return "exited with code \(status.exit_code)"
}
