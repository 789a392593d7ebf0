import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// A child started with ps_spawn: the leader of its own process group (pgid == pid), its
/// pipes and its pidfd. A value type holding descriptors: keep one copy, and end it with
/// `killAndReap` (which closes them all). Watch it with `ChildWatcher`.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    /// Write end of the child's stdin (PS_SPAWN_STDIN_PIPE), else -1.
    public var stdinFD: Int32
    /// Read ends (non-blocking); -1 once closed, or for stderr when merged into stdout.
    public var stdoutFD: Int32
    public var stderrFD: Int32
    /// Readable once the child has exited; -1 on kernels without pidfds (then exit is
    /// noticed by looking: ps_has_exited).
    public var pidFD: Int32
    private var reaped = false

    /// Takes over what ps_spawn filled in; opens a pidfd when the spawn made none.
    public init(_ child: ps_child) {
        pid = child.pid
        stdinFD = child.stdin_fd
        stdoutFD = child.stdout_fd
        stderrFD = child.stderr_fd
        pidFD = child.pidfd >= 0 ? child.pidfd : ps_pidfd_open(child.pid)
    }

    /// Spawns `argv` (see ps_spawn_options; `envp` nil = this process's environment) with
    /// `extraFDs` as the child's fds 3, 4, … (ps_spawn_with_fds). The error is ps_spawn's errno.
    public static func spawn(
        _ argv: [String], envp: UnsafePointer<UnsafePointer<CChar>?>? = nil, workdir: String? = nil,
        searchPath: String? = nil, flags: UInt32, extraFDs: [Int32] = []
    ) -> Result<ChildProcess, SpawnError> {
        withCStrings(argv) { argvp in
            withOptionalCString(workdir) { workdirC in
                withOptionalCString(searchPath) { searchC in
                    var options = ps_spawn_options(argv: argvp, envp: envp, workdir: workdirC, search_path: searchC,
                                                   flags: flags)
                    var child = ps_child()
                    let error = extraFDs.isEmpty
                        ? ps_spawn(&options, &child)
                        : extraFDs.withUnsafeBufferPointer { fds in
                            ps_spawn_with_fds(&options, fds.baseAddress, Int32(clamping: fds.count), &child)
                        }
                    return error == 0 ? .success(ChildProcess(child)) : .failure(SpawnError(code: error))
                }
            }
        }
    }

    /// True once the process has exited (checked without blocking or reaping).
    public var hasExited: Bool {
        if reaped { return true }
        if pidFD >= 0 {
            var fd = pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)
            return poll(&fd, 1, 0) > 0
        }
        return ps_has_exited(pid) == 1
    }

    /// Ends the child for good: SIGKILL to its whole group (what the leader left running
    /// included: the leader, dead or alive, is not reaped yet, so the pgid cannot have been
    /// reused), closes every descriptor, and reaps it. Returns how it ended; nil when it was
    /// reaped before or the status is unknown.
    @discardableResult
    public mutating func killAndReap() -> ps_exit_status? {
        guard !reaped else { return nil }
        _ = ps_kill_group(pid, SIGKILL)
        Self.close(&stdinFD)
        Self.close(&stdoutFD)
        Self.close(&stderrFD)
        Self.close(&pidFD)
        reaped = true
        var status = ps_exit_status()
        return ps_wait(pid, 0, &status) == 1 ? status : nil
    }

    private static func close(_ fd: inout Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

/// ps_spawn's errno: ENOENT for a missing program or workdir, EACCES, …
public struct SpawnError: Error, Sendable {
    public let code: Int32
    public init(code: Int32) { self.code = code }
}

extension ps_exit_status {
    /// The shell's convention: the exit code, or 128 + the signal that killed it.
    public var shellExitCode: Int { signal != 0 ? 128 + Int(signal) : Int(exit_code) }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
