import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// One attempt's process, from spawn to result: started in its own process group, watched
/// by ExecutorKit's ChildWatcher (output streamed to the host; on cancel or timeout SIGTERM
/// to the group, SIGKILL after the grace), and its end told in the shell's words.
enum ShellProcess {
    static func spawn(
        argv: [String], envp: UnsafePointer<UnsafePointer<CChar>?>, workdir: String?, searchPath: String?
    ) -> Result<ChildProcess, SpawnError> {
        ChildProcess.spawn(argv, envp: envp, workdir: workdir, searchPath: searchPath,
                           flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_PIDFD))
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

    /// Watches `child` to its end and reaps it.
    static func run(_ child: inout ChildProcess, call: PluginCall, timeoutMs: Int?, killGraceMs: Int) -> PluginResult {
        let limit = timeoutMs.flatMap { $0 > 0 ? $0 : nil }
        var watcher = ChildWatcher(call: call, deadlineNs: ChildWatcher.deadline(afterMs: limit))
        var output = CallOutput(call)
        var kill = GroupSignals(graceMs: killGraceMs)
        _ = watcher.run(&child, client: &output, escalation: &kill)
        let status = child.killAndReap()
        return result(status: status, ending: watcher.ending, timeoutMs: limit)
    }

    private static func result(status: ps_exit_status?, ending: ChildWatcher.Ending?, timeoutMs: Int?) -> PluginResult {
        var exitCode: Int?
        var summary = "exit status unknown"
        if let status {
            exitCode = status.shellExitCode
            if status.signal != 0 {
                summary = "killed by signal " + SystemText.signal(status.signal)
                if status.core_dumped != 0 { summary += " (core dumped)" }
            } else {
                summary = "exit \(status.exit_code)"
            }
        }
        switch ending {
        case .cancelled:
            return .cancelled("cancelled (\(summary))", exitCode: exitCode)
        case .timedOut:
            return .failed("timed out after \(SystemText.milliseconds(timeoutMs ?? 0)) (\(summary))", exitCode: exitCode)
        case .requested, nil:
            if exitCode == 0 { return .succeeded("exit 0", exitCode: 0) }
            return .failed(summary, exitCode: exitCode)
        }
    }
}
