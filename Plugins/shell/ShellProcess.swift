import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// Runs one spawned child to completion on the calling thread: one poll() over its two
/// pipes, its pidfd and the call's cancel fd, so nothing spins and nothing sleeps.
struct Runner {
    private var child: ps_child
    private let call: PluginCall
    private let timeoutMs: Int?
    private let killGraceNs: Int64

    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var pidFD: Int32 = -1
    /// -1 once cancellation has been seen (it stays readable) or when the host has none.
    private var cancelFD: Int32 = -1
    private var hostHasCancelFD = false

    private enum Ending { case none, cancelled, timedOut }
    private var ending = Ending.none
    private var deadlineNs: Int64?
    private var killAtNs: Int64?

    private static let readSize = 64 * 1024

    init(child: ps_child, call: PluginCall, timeoutMs: Int?, killGraceMs: Int) {
        self.child = child
        self.call = call
        self.timeoutMs = timeoutMs.flatMap { $0 > 0 ? $0 : nil }
        killGraceNs = Int64(killGraceMs) * 1_000_000
        stdoutFD = child.stdout_fd
        stderrFD = child.stderr_fd
    }

    static func spawn(
        argv: [String], envp: UnsafePointer<UnsafePointer<CChar>?>, workdir: String?, searchPath: String?
    ) -> Result<ps_child, SpawnError> {
        withCStrings(argv) { argvp in
            withOptionalCString(workdir) { workdirC in
                withOptionalCString(searchPath) { searchC in
                    var options = ps_spawn_options(
                        argv: argvp, envp: envp, workdir: workdirC,
                        search_path: searchC, flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_PIDFD))
                    var child = ps_child()
                    let error = ps_spawn(&options, &child)
                    return error == 0 ? .success(child) : .failure(SpawnError(code: error))
                }
            }
        }
    }

    static func spawnFailure(errno error: Int32, argv: [String], workdir: String?) -> PluginResult {
        if let workdir, error == ENOENT || error == ENOTDIR || error == EACCES {
            // The same errno comes from a bad program or a bad workdir; say which.
            var info = stat()
            if stat(workdir, &info) != 0 {
                return .failed("cannot change to workdir \(workdir): \(SystemText.error(errno))", exitCode: 127)
            }
            if (info.st_mode & S_IFMT) != S_IFDIR {
                return .failed("cannot change to workdir \(workdir): \(SystemText.error(ENOTDIR))", exitCode: 127)
            }
        }
        let exitCode: Int? = error == ENOENT ? 127 : (error == EACCES || error == ENOEXEC ? 126 : nil)
        return .failed("cannot run \(argv[0]): \(SystemText.error(error))", exitCode: exitCode)
    }

    mutating func run() -> PluginResult {
        pidFD = child.pidfd >= 0 ? child.pidfd : ps_pidfd_open(child.pid)
        if let fd = call.cancelFD {
            cancelFD = fd
            hostHasCancelFD = true
        }
        if let timeoutMs { deadlineNs = ps_monotonic_ns() + Int64(timeoutMs) * 1_000_000 }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var status = ps_exit_status()

        withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 4) { fds in
            while true {
                var count = 0
                var stdoutSlot = -1, stderrSlot = -1, pidSlot = -1, cancelSlot = -1
                func add(_ fd: Int32, _ slot: inout Int) {
                    guard fd >= 0 else { return }
                    fds[count] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    slot = count
                    count += 1
                }
                add(stdoutFD, &stdoutSlot)
                add(stderrFD, &stderrSlot)
                add(pidFD, &pidSlot)
                add(cancelFD, &cancelSlot)

                let ready = poll(fds.baseAddress, nfds_t(count), pollTimeoutMs())
                if ready < 0 && errno != EINTR {
                    // Cannot watch the child any more: end it rather than leave it behind.
                    _ = ps_kill_group(child.pid, SIGKILL)
                    break
                }
                if ready > 0 {
                    if stdoutSlot >= 0 { service(&stdoutFD, fds[stdoutSlot].revents, .stdout, buffer) }
                    if stderrSlot >= 0 { service(&stderrFD, fds[stderrSlot].revents, .stderr, buffer) }
                }
                let now = ps_monotonic_ns()
                if ending == .none {
                    let cancelled = cancelSlot >= 0 ? fds[cancelSlot].revents != 0 : (!hostHasCancelFD && call.isCancelled)
                    if cancelled {
                        terminate(.cancelled, now: now)
                    } else if let deadlineNs, now >= deadlineNs {
                        terminate(.timedOut, now: now)
                    }
                }
                if let killAtNs, now >= killAtNs {
                    _ = ps_kill_group(child.pid, SIGKILL)
                    self.killAtNs = nil
                }
                let exited = pidSlot >= 0 ? fds[pidSlot].revents != 0 : (pidFD < 0 && ps_has_exited(child.pid) == 1)
                if exited {
                    // The leader is a zombie, so its pid (our pgid) cannot be reused yet:
                    // kill whatever it left running, which also releases pipes they hold.
                    _ = ps_kill_group(child.pid, SIGKILL)
                    break
                }
            }
        }
        // Whatever the child wrote before it exited is already in the pipes.
        drain(&stdoutFD, .stdout, buffer)
        drain(&stderrFD, .stderr, buffer)
        if pidFD >= 0 { close(pidFD) }
        let reaped = ps_wait(child.pid, 0, &status) == 1
        return result(status: reaped ? status : nil)
    }

    private mutating func terminate(_ reason: Ending, now: Int64) {
        ending = reason
        cancelFD = -1  // stays readable from now on; stop watching it
        _ = ps_kill_group(child.pid, SIGTERM)
        _ = ps_kill_group(child.pid, SIGCONT)  // a stopped process only sees TERM once continued
        killAtNs = now + killGraceNs
    }

    private func pollTimeoutMs() -> Int32 {
        var next: Int64? = killAtNs
        if ending == .none, let deadlineNs { next = min(next ?? deadlineNs, deadlineNs) }
        var timeout: Int64 = -1
        if let next {
            // Round up, so we never wake just before the deadline and go round again.
            timeout = max(0, (next - ps_monotonic_ns() + 999_999) / 1_000_000)
        }
        // Without a pidfd (Linux < 5.3) or a host cancel fd, exit or cancellation can
        // only be noticed by looking again.
        if pidFD < 0 || (!hostHasCancelFD && ending == .none) {
            timeout = timeout < 0 ? 20 : min(timeout, 20)
        }
        return Int32(clamping: timeout)
    }

    /// Any event means a read: a hang-up can be reported without POLLIN while the last chunk
    /// is still in the pipe (poll looks at the data before it looks at the writers).
    private func service(_ fd: inout Int32, _ revents: Int16, _ stream: PluginStream, _ buffer: UnsafeMutableRawBufferPointer) {
        if revents != 0 { readOnce(&fd, stream, buffer) }
    }

    /// One read per wake-up keeps both streams flowing in turn.
    private func readOnce(_ fd: inout Int32, _ stream: PluginStream, _ buffer: UnsafeMutableRawBufferPointer) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n > 0 {
            call.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(fd)
            fd = -1
        }
    }

    /// Reads until the pipe is empty, then closes it: a process that escaped the group
    /// kill (setsid) may hold it open, so waiting for EOF could hang forever. Bounded too,
    /// in case such a process keeps it full.
    private func drain(_ fd: inout Int32, _ stream: PluginStream, _ buffer: UnsafeMutableRawBufferPointer) {
        guard fd >= 0 else { return }
        var reads = 0
        while reads < 64 {
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
        close(fd)
        fd = -1
    }

    private func result(status: ps_exit_status?) -> PluginResult {
        var exitCode: Int?
        var summary = "exit status unknown"
        if let status {
            if status.signal != 0 {
                exitCode = 128 + Int(status.signal)
                summary = "killed by signal " + SystemText.signal(status.signal)
                if status.core_dumped != 0 { summary += " (core dumped)" }
            } else {
                exitCode = Int(status.exit_code)
                summary = "exit \(status.exit_code)"
            }
        }
        switch ending {
        case .cancelled:
            return .cancelled("cancelled (\(summary))", exitCode: exitCode)
        case .timedOut:
            return .failed("timed out after \(SystemText.milliseconds(timeoutMs ?? 0)) (\(summary))", exitCode: exitCode)
        case .none:
            if exitCode == 0 { return .succeeded("exit 0", exitCode: 0) }
            return .failed(summary, exitCode: exitCode)
        }
    }
}

struct SpawnError: Error { let code: Int32 }

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
