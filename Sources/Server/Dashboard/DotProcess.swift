import Foundation
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// Graphviz `dot` as a subprocess: DOT text in, SVG out. A subprocess, not libgvc, because
/// libgvc is not thread-safe and a crash in it must not take the server down. The child leads
/// its own process group; on the time limit the whole group is killed. Blocking: call it on a
/// dedicated thread (`GraphLayouts.onThread`), never on the event loop or the cooperative pool.
enum DotProcess {
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The program is not installed (errno from the spawn).
        case cannotStart(program: String, reason: String)
        case timedOut(program: String, seconds: Double)
        case crashed(program: String, signal: String, stderr: String)
        case exited(program: String, code: Int32, stderr: String)
        case tooLarge(program: String, limit: Int)
        case io(String)

        var description: String {
            switch self {
            case .cannotStart(let program, let reason):
                return "the graph layout program \(program) cannot be started (\(reason)); install Graphviz (Debian: graphviz) or set PLANTER_DOT"
            case .timedOut(let program, let seconds):
                return "the graph layout (\(program)) took longer than \(seconds) s and was stopped (PLANTER_DOT_TIMEOUT)"
            case .crashed(let program, let signal, let stderr):
                return "the graph layout program \(program) crashed (signal \(signal))" + Self.suffix(stderr)
            case .exited(let program, let code, let stderr):
                return "the graph layout program \(program) failed with exit code \(code)" + Self.suffix(stderr)
            case .tooLarge(let program, let limit):
                return "the graph layout (\(program)) wrote more than \(limit) bytes and was stopped"
            case .io(let message):
                return "the graph layout failed: \(message)"
            }
        }

        private static func suffix(_ stderr: String) -> String {
            let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "" : ": " + String(text.prefix(400))
        }
    }

    /// Blocking: spawn, feed stdin, drain stdout and stderr with poll() until the child exits
    /// or the deadline passes; then kill the group (whatever is left of it) and reap.
    static func run(_ input: [UInt8], program: String, timeout: Duration, maxOutput: Int) -> Result<[UInt8], Failure> {
        // A write to a dot that died must give EPIPE, not kill the server (this thread is the layout's own).
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        let arguments = [program, "-Tsvg"]
        var child = ps_child()
        let spawnError: Int32 = withCStrings(arguments) { argv in
            var options = ps_spawn_options(argv: argv, envp: nil, workdir: nil, search_path: nil,
                                           flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_STDIN_PIPE | PS_SPAWN_PIDFD))
            return ps_spawn(&options, &child)
        }
        guard spawnError == 0 else { return .failure(.cannotStart(program: program, reason: String(cString: strerror(spawnError)))) }
        // A layout is background work: on a small machine the API's threads come first (it is
        // set just after the spawn, while dot is still reading its input).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(child.pid), 10)
        // The group is killed before the leader is reaped, so its pgid cannot have been reused.
        var reaped = false
        defer {
            if !reaped {
                _ = ps_kill_group(child.pid, SIGKILL)
                var status = ps_exit_status()
                _ = ps_wait(child.pid, 0, &status)
            }
            if child.pidfd >= 0 { close(child.pidfd) }
        }
        var stdinFD = child.stdin_fd
        _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK)
        var stdoutFD = child.stdout_fd
        var stderrFD = child.stderr_fd
        defer {
            for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 { close(fd) }
        }
        let nanoseconds = timeout.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let budget = nanoseconds.overflow ? Int64.max / 2 : nanoseconds.partialValue + timeout.components.attoseconds / 1_000_000_000
        let deadline = ps_monotonic_ns() + min(budget, Int64.max / 2)
        var written = 0
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        if input.isEmpty { close(stdinFD); stdinFD = -1 }

        while stdoutFD >= 0 || stderrFD >= 0 {
            let left = deadline - ps_monotonic_ns()
            if left <= 0 { return .failure(.timedOut(program: program, seconds: Double(budget) / 1e9)) }
            var fds = [pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0),
                       pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(left / 1_000_000 + 1, 1000)))
            if ready < 0 {
                if errno == EINTR { continue }
                return .failure(.io("poll: \(String(cString: strerror(errno)))"))
            }
            if stdinFD >= 0, fds[0].revents != 0 {
                let count = input.withUnsafeBytes { raw in write(stdinFD, raw.baseAddress! + written, raw.count - written) }
                if count > 0 { written += count }
                // EPIPE: dot stopped reading (it failed); its exit status tells why.
                if written >= input.count || (count < 0 && errno != EAGAIN && errno != EINTR) {
                    close(stdinFD)
                    stdinFD = -1
                }
            }
            for (slot, isOutput) in [(1, true), (2, false)] where fds[slot].revents != 0 {
                let fd = isOutput ? stdoutFD : stderrFD
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if count > 0 {
                    if isOutput {
                        output.append(contentsOf: buffer[0..<count])
                        if output.count > maxOutput { return .failure(.tooLarge(program: program, limit: maxOutput)) }
                    } else if errors.count < 8192 {
                        errors.append(contentsOf: buffer[0..<min(count, 8192 - errors.count)])
                    }
                } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(fd)
                    if isOutput { stdoutFD = -1 } else { stderrFD = -1 }
                }
            }
        }
        // Both pipes are closed: wait for the exit itself, still within the deadline.
        if !exits(child, by: deadline) { return .failure(.timedOut(program: program, seconds: Double(budget) / 1e9)) }
        _ = ps_kill_group(child.pid, SIGKILL)  // anything dot left behind
        var status = ps_exit_status()
        guard ps_wait(child.pid, 0, &status) == 1 else { return .failure(.io("waitpid: \(String(cString: strerror(errno)))")) }
        reaped = true
        let stderrText = String(decoding: errors, as: UTF8.self)
        if status.signal != 0 {
            let name = ps_signal_abbrev(status.signal).map { "SIG" + String(cString: $0) } ?? String(status.signal)
            return .failure(.crashed(program: program, signal: name, stderr: stderrText))
        }
        if status.exit_code != 0 { return .failure(.exited(program: program, code: status.exit_code, stderr: stderrText)) }
        return .success(output)
    }

    /// Whether the child exits before the deadline (without reaping it): its pidfd, or on a kernel
    /// without pidfds a check every 10 ms.
    private static func exits(_ child: ps_child, by deadline: Int64) -> Bool {
        while true {
            let left = deadline - ps_monotonic_ns()
            if child.pidfd >= 0 { return ps_wait_pidfd(child.pidfd, Int32(clamping: max(0, left / 1_000_000))) == 1 }
            if ps_has_exited(child.pid) != 0 { return true }
            if left <= 0 { return false }
            usleep(10_000)
        }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, text) in strings.enumerated() { array[index] = UnsafePointer(strdup(text)) }
        array[strings.count] = nil
        defer {
            for index in 0..<strings.count { free(UnsafeMutablePointer(mutating: array[index])) }
            array.deallocate()
        }
        return body(UnsafePointer(array))
    }
}
