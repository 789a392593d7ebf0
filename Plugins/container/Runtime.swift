import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// The container runtime's command lines.
struct Runtime: Sendable {
    enum Kind: String, Sendable { case runc, docker, podman }
    var kind: Kind
    /// The runtime binary (resolved at create time).
    var program: String
    /// runc's --root (state folder); nil = runc's default.
    var stateRoot: String?

    private var globalArgs: [String] {
        guard kind == .runc, let stateRoot else { return [] }
        return ["--root", stateRoot]
    }

    func runArgv(bundle: String, name: String) -> [String] {
        [program] + globalArgs + ["run", "--bundle", bundle, name]
    }

    /// docker/podman: `run --rm` with everything on the command line.
    func cliRunArgv(job: ContainerJob, env: [String], image: String, ioDir: String, name: String) -> [String] {
        var argv = [program, "run", "--rm", "--name", name, "--network", job.network == "none" ? "none" : "host"]
        for entry in env { argv += ["--env", entry] }
        if let workdir = job.workdir { argv += ["--workdir", workdir] }
        argv += ["--volume", ioDir + ":" + containerIODir + ":rw"]
        for mount in job.mounts {
            argv += ["--volume", mount.source + ":" + mount.destination + (mount.readWrite ? ":rw" : ":ro")]
        }
        if let bytes = job.limits.memoryBytes { argv += ["--memory", String(bytes)] }
        if let cpus = job.limits.cpus { argv += ["--cpus", String(cpus)] }
        if let pids = job.limits.pids { argv += ["--pids-limit", String(pids)] }
        argv += ["--entrypoint", job.argv[0], image]
        argv += job.argv.dropFirst()
        return argv
    }

    func killArgv(name: String) -> [String] {
        kind == .runc ? [program] + globalArgs + ["kill", name, "KILL"] : [program, "kill", name]
    }

    func deleteArgv(name: String) -> [String] {
        kind == .runc ? [program] + globalArgs + ["delete", "--force", name] : [program, "rm", "--force", name]
    }

    func listArgv() -> [String] { [program] + globalArgs + ["list", "--quiet"] }
}

/// Runs a short runtime command (kill, delete, list) to completion and returns its exit
/// code and combined output (bounded). Gives up, killing it, after `timeoutMs`.
func runQuick(_ argv: [String], timeoutMs: Int = 10_000) -> (code: Int32, output: String) {
    var child = ps_child()
    let error = withCStrings(argv) { argvp in
        var options = ps_spawn_options(argv: argvp, envp: nil, workdir: nil, search_path: nil,
                                       flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_MERGE_STDERR))
        return ps_spawn(&options, &child)
    }
    guard error == 0 else { return (-1, "cannot run \(argv[0]): \(SystemText.error(error))") }
    var output: [UInt8] = []
    let deadline = ps_monotonic_ns() + Int64(timeoutMs) * 1_000_000
    var buffer = [UInt8](repeating: 0, count: 4096)
    var fd = pollfd(fd: child.stdout_fd, events: Int16(POLLIN), revents: 0)
    while true {
        let left = Int32(clamping: max(0, (deadline - ps_monotonic_ns()) / 1_000_000))
        let ready = poll(&fd, 1, left)
        if ready == 0 { break }
        if ready < 0 { if errno == EINTR { continue } else { break } }
        let n = buffer.withUnsafeMutableBytes { read(child.stdout_fd, $0.baseAddress, $0.count) }
        if n > 0 {
            if output.count < 16 * 1024 { output.append(contentsOf: buffer[..<n]) }
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            break
        }
    }
    close(child.stdout_fd)
    _ = ps_kill_group(child.pid, SIGKILL)
    var status = ps_exit_status()
    let code: Int32 = ps_wait(child.pid, 0, &status) == 1 ? (status.signal != 0 ? 128 + status.signal : status.exit_code) : -1
    return (code, String(decoding: output, as: UTF8.self))
}

/// Runs the runtime's foreground `run` command for one attempt: streams its stdout and
/// stderr (the container's, since the runtime passes its stdio through), and on cancel
/// or timeout kills the container with the runtime (not just the runtime process: the
/// container would outlive it) and deletes it.
struct ContainerRun {
    let runtime: Runtime
    let name: String
    let call: PluginCall
    let timeoutMs: Int?

    enum Ending { case none, cancelled, timedOut }

    struct Outcome {
        var status: ps_exit_status?
        var ending: Ending
        /// The runtime's last stderr bytes, to explain a failure to start.
        var stderrTail: String
        var killError: String?
    }

    func run(argv: [String]) -> Result<Outcome, PluginError> {
        var child = ps_child()
        let error = withCStrings(argv) { argvp in
            var options = ps_spawn_options(argv: argvp, envp: nil, workdir: nil, search_path: nil,
                                           flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_PIDFD))
            return ps_spawn(&options, &child)
        }
        guard error == 0 else { return .failure(PluginError("cannot run \(argv[0]): \(SystemText.error(error))")) }

        var stdoutFD = child.stdout_fd
        var stderrFD = child.stderr_fd
        let pidFD = child.pidfd >= 0 ? child.pidfd : ps_pidfd_open(child.pid)
        var cancelFD = call.cancelFD ?? -1
        let hostHasCancelFD = cancelFD >= 0
        let deadline = timeoutMs.flatMap { $0 > 0 ? ps_monotonic_ns() + Int64($0) * 1_000_000 : nil }
        var ending = Ending.none
        var nextKillAt: Int64?
        var kills = 0
        var killError: String?
        var tail: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }

        func readOnce(_ fd: inout Int32, _ stream: PluginStream) {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
                call.output(stream, chunk)
                if stream == .stderr {
                    tail.append(contentsOf: chunk)
                    if tail.count > 8192 { tail.removeFirst(tail.count - 8192) }
                }
            } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                close(fd)
                fd = -1
            }
        }

        /// `runtime kill`; the container may not exist yet (still being created), so
        /// this is repeated until the run command ends, then the runtime itself is killed.
        func killContainer(now: Int64) {
            kills += 1
            if kills > 20 {
                _ = ps_kill_group(child.pid, SIGKILL)
                nextKillAt = nil
                return
            }
            let result = runQuick(runtime.killArgv(name: name))
            if result.code != 0 { killError = result.output.trimmingTrailingNewlines }
            nextKillAt = ps_monotonic_ns() + 250_000_000
        }

        withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 4) { fds in
            while true {
                var count = 0
                var outSlot = -1, errSlot = -1, pidSlot = -1, cancelSlot = -1
                func add(_ fd: Int32, _ slot: inout Int) {
                    guard fd >= 0 else { return }
                    fds[count] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    slot = count
                    count += 1
                }
                add(stdoutFD, &outSlot)
                add(stderrFD, &errSlot)
                add(pidFD, &pidSlot)
                add(cancelFD, &cancelSlot)
                var wake: Int64? = nextKillAt
                if ending == .none, let deadline { wake = min(wake ?? deadline, deadline) }
                var timeout: Int32 = -1
                if let wake { timeout = Int32(clamping: max(0, (wake - ps_monotonic_ns() + 999_999) / 1_000_000)) }
                if pidFD < 0 || (!hostHasCancelFD && ending == .none) { timeout = timeout < 0 ? 20 : min(timeout, 20) }

                let ready = poll(fds.baseAddress, nfds_t(count), timeout)
                if ready < 0 && errno != EINTR {
                    _ = runQuick(runtime.killArgv(name: name))
                    _ = ps_kill_group(child.pid, SIGKILL)
                    break
                }
                if ready > 0 {
                    if outSlot >= 0 && fds[outSlot].revents != 0 { readOnce(&stdoutFD, .stdout) }
                    if errSlot >= 0 && fds[errSlot].revents != 0 { readOnce(&stderrFD, .stderr) }
                }
                let now = ps_monotonic_ns()
                if ending == .none {
                    let cancelled = cancelSlot >= 0 ? fds[cancelSlot].revents != 0 : (!hostHasCancelFD && call.isCancelled)
                    if cancelled || (deadline.map { now >= $0 } ?? false) {
                        ending = cancelled ? .cancelled : .timedOut
                        cancelFD = -1
                        killContainer(now: now)
                        continue
                    }
                }
                let exited = pidSlot >= 0 ? fds[pidSlot].revents != 0 : (pidFD < 0 && ps_has_exited(child.pid) == 1)
                if exited {
                    _ = ps_kill_group(child.pid, SIGKILL)
                    break
                }
                if let nextKillAt, now >= nextKillAt { killContainer(now: now) }
            }
        }
        for (fd, stream) in [(stdoutFD, PluginStream.stdout), (stderrFD, .stderr)] where fd >= 0 {
            var reads = 0
            while reads < 64 {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    call.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    if stream == .stderr { tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
                    reads += 1
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
        }
        if pidFD >= 0 { close(pidFD) }
        var status = ps_exit_status()
        let reaped = ps_wait(child.pid, 0, &status) == 1
        return .success(Outcome(status: reaped ? status : nil, ending: ending,
                                stderrTail: String(decoding: tail.suffix(8192), as: UTF8.self), killError: killError))
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" || last == " " { text.removeLast() }
        return String(text)
    }
}
