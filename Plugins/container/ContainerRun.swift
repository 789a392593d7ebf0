import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// Runs the runtime's foreground `run` command for one attempt: streams its stdout and
/// stderr (the container's, since the runtime passes its stdio through), and on cancel
/// or timeout kills the container with the runtime (not just the runtime process: the
/// container would outlive it).
struct ContainerRun {
    let runtime: Runtime
    let name: String
    let call: PluginCall
    let timeoutMs: Int?

    struct Outcome {
        var status: ps_exit_status?
        /// Why the container was killed; nil when it ended by itself.
        var ending: ChildWatcher.Ending?
        /// The runtime's last stderr bytes, to explain a failure to start.
        var stderrTail: String
        var killError: String?
    }

    func run(argv: [String]) -> Result<Outcome, PluginError> {
        var child: ChildProcess
        switch ChildProcess.spawn(argv, flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_PIDFD)) {
        case .success(let spawned): child = spawned
        case .failure(let error): return .failure(PluginError("cannot run \(argv[0]): \(SystemText.error(error.code))"))
        }
        var watcher = ChildWatcher(call: call, deadlineNs: ChildWatcher.deadline(afterMs: timeoutMs))
        var output = StreamKeepingStderrTail(call: call)
        var kill = RuntimeKill(runtime: runtime, name: name)
        _ = watcher.run(&child, client: &output, escalation: &kill)
        let status = child.killAndReap()
        return .success(Outcome(status: status, ending: watcher.ending,
                                stderrTail: String(decoding: output.tail, as: UTF8.self), killError: kill.error))
    }
}

/// Streams the runtime's output to the host and keeps the end of its stderr.
private struct StreamKeepingStderrTail: ChildWatchClient {
    static let tailBytes = 8192
    let call: PluginCall
    var tail: [UInt8] = []

    mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {
        call.output(stream, bytes)
        guard stream == .stderr else { return }
        tail.append(contentsOf: bytes)
        if tail.count > Self.tailBytes { tail.removeFirst(tail.count - Self.tailBytes) }
    }
}

/// `runtime kill`, every 250 ms: the container may not exist yet (still being created), so
/// it is repeated until the run command ends; after 20 tries the runtime itself is killed.
private struct RuntimeKill: KillEscalation {
    let runtime: Runtime
    let name: String
    /// What the runtime said when a kill failed.
    var error: String?

    mutating func step(_ step: Int, group: pid_t) -> Int64? {
        guard step < 20 else {
            _ = ps_kill_group(group, SIGKILL)
            return nil
        }
        let result = runQuick(runtime.killArgv(name: name))
        if result.code != 0 { error = result.output.trimmingTrailingNewlines }
        return 250_000_000
    }

    mutating func abort(group: pid_t) {
        _ = runQuick(runtime.killArgv(name: name))
        _ = ps_kill_group(group, SIGKILL)
    }
}

/// Runs a short runtime command (kill, delete) to completion and returns its exit code and
/// combined output (bounded). Gives up, killing it, after `timeoutMs`.
func runQuick(_ argv: [String], timeoutMs: Int = 10_000) -> (code: Int32, output: String) {
    var child: ChildProcess
    switch ChildProcess.spawn(argv, flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_MERGE_STDERR | PS_SPAWN_PIDFD)) {
    case .success(let spawned): child = spawned
    case .failure(let error): return (-1, "cannot run \(argv[0]): \(SystemText.error(error.code))")
    }
    var watcher = ChildWatcher(call: nil, deadlineNs: ChildWatcher.deadline(afterMs: timeoutMs), readSize: 4096)
    var output = BoundedOutput()
    _ = watcher.run(&child, client: &output)
    let status = child.killAndReap()
    let code = status.map { Int32(clamping: $0.shellExitCode) } ?? -1
    return (code, String(decoding: output.bytes, as: UTF8.self))
}

/// The first 16 KiB of a command's output.
private struct BoundedOutput: ChildWatchClient {
    var bytes: [UInt8] = []

    mutating func output(_ stream: PluginStream, _ chunk: UnsafeRawBufferPointer) {
        if bytes.count < 16 * 1024 { bytes.append(contentsOf: chunk) }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" || last == " " { text.removeLast() }
        return String(text)
    }
}
