import PlanterCore
import PlanterJSON
import ProcessSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Starting the executor's process: on first use, again after it died (with a growing
/// delay after failures), and the handshake and configure it must pass before serving.
extension SubprocessExecutor {
    /// The running process, starting one (after the restart backoff) when there is none.
    func running(call: CallContext?) -> Result<ExecutorProcess, SubprocessError> {
        lifecycle.withLock { state -> Result<ExecutorProcess, SubprocessError> in
            if state.shutDown { return .failure(SubprocessError("executor \(name) was shut down")) }
            if let process = state.process {
                if process.isUsable { return .success(process) }
                // It died (or is being stopped) since the last call.
                let (completed, exitedAt) = process.monitor.withLock { (process.completedCalls, process.exitedAt) }
                state.failures = completed > 0 ? 1 : state.failures + 1
                state.failedAt = exitedAt ?? Monitor.monotonicNow()
                state.process = nil
                process.requestStop(reason: nil)
            }
            if state.failures > 0 {
                let delay = restartDelayNs(afterFailures: state.failures)
                let until = state.failedAt + delay
                if !sleep(until: until, call: call) {
                    return .failure(SubprocessError("cancelled while waiting to restart executor \(name)"))
                }
            }
            switch launch(call: call) {
            case .success(let process):
                state.process = process
                state.failures = 0
                return .success(process)
            case .failure(let error):
                if call?.isCancelled != true {
                    state.failures += 1
                    state.failedAt = Monitor.monotonicNow()
                }
                return .failure(error)
            }
        }
    }

    func restartDelayNs(afterFailures failures: Int) -> Int64 {
        let base = Double(options.restartDelay.milliseconds) * pow(2, Double(max(0, failures - 1)))
        return PlanDuration(milliseconds: Int64(min(base, Double(options.maxRestartDelay.milliseconds)))).nanoseconds
    }

    /// Waits until the monotonic time `until`; false if `call` was cancelled first.
    private func sleep(until: Int64, call: CallContext?) -> Bool {
        while true {
            if call?.isCancelled == true { return false }
            let remaining = until - Monitor.monotonicNow()
            if remaining <= 0 { return true }
            let ms = MonotonicTime.pollTimeout(until: until)
            if let fd = call?.cancelFD(), fd >= 0 {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, ms)
            } else {
                usleep(UInt32(min(ms, 20)) * 1000)
            }
        }
    }

    private var commandLine: String { options.command.map(displayQuoted).joined(separator: " ") }

    /// Spawns the program and waits for its handshake and the answer to configure.
    private func launch(call: CallContext?) -> Result<ExecutorProcess, SubprocessError> {
        guard let program = options.command.first, !program.isEmpty else {
            return .failure(SubprocessError("executor \(name) has an empty command"))
        }
        let child: ps_child
        switch spawnProcess(argv: options.command, environment: options.environment) {
        case .failure(let error):
            return .failure(SubprocessError("cannot start executor \(name): \(program): \(String(cString: strerror(error.code))) "
                + "(command: \(commandLine))"))
        case .success(let spawned): child = spawned
        }
        let name = self.name
        let sink = self.sink
        let timing = ExecutorProcess.Timing(stopGraceNs: options.stopGrace.nanoseconds,
                                            cancelGraceNs: options.cancelGrace.nanoseconds)
        let process: ExecutorProcess
        do {
            process = try ExecutorProcess(
                name: name, commandLine: commandLine, child: child, config: options.config, timing: timing,
                log: { level, message in
                    if let sink { sink(level, message) } else { StandardError.write("[\(level.name)] executor \(name): \(message)\n") }
                })
        } catch {
            return .failure(error)
        }
        let timeout = options.startTimeout
        let deadline = MonotonicTime.deadline(after: timeout)
        let timeoutMessage = "executor \(name) did not complete its handshake within \(formatNs(timeout.nanoseconds)) "
            + "(command: \(commandLine)); a subprocess executor must first write a handshake line to stdout"
        if let failure = process.waitUntilReady(deadline: deadline, call: call, timeoutMessage: timeoutMessage) {
            return .failure(SubprocessError(failure))
        }
        return .success(process)
    }
}
