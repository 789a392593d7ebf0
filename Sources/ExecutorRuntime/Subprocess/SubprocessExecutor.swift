import PlanterCore
import PlanterJSON
import ProcessSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An executor that is a separate program speaking the subprocess protocol (newline-delimited JSON
/// over its stdin/stdout; Sources/ExecutorAPI/README.md, "Subprocess executors"). The program is
/// started on first use in its own process group, kept running, and restarted with a backoff when
/// it dies; a request in flight when it dies fails with how it died ("executor py exited on
/// signal 9 (SIGKILL)"). Plugins run with `isolation: process` are this too, with
/// `planter-executor-host PLUGIN.so` as the program.
public final class SubprocessExecutor: Executor {
    public typealias LogSink = @Sendable (LogLevel, String) -> Void

    public struct Options: Sendable {
        /// The program and its arguments; `command[0]` without a `/` is looked up in PATH.
        public var command: [String]
        /// Added to (and overriding) the host's environment.
        public var environment: [String: String] = [:]
        /// Sent with the configure message (the deployment's `config`).
        public var config: JSON = .object(JSONObject())
        /// From spawn until the answer to configure.
        public var startTimeout = PlanDuration(milliseconds: 10_000)
        /// Between the teardown steps: close stdin, then TERM, then KILL.
        public var stopGrace = PlanDuration(milliseconds: 2_000)
        /// How long a cancelled request may take to answer before the call ends as cancelled anyway.
        public var cancelGrace = PlanDuration(milliseconds: 10_000)
        /// Restart delay after the first failure in a row; doubled per further one, up to `maxRestartDelay`.
        public var restartDelay = PlanDuration(milliseconds: 100)
        public var maxRestartDelay = PlanDuration(milliseconds: 10_000)

        public init(command: [String], environment: [String: String] = [:], config: JSON = .object(JSONObject()),
                    startTimeout: PlanDuration? = nil) {
            self.command = command
            self.environment = environment
            self.config = config
            if let startTimeout { self.startTimeout = startTimeout }
        }
    }

    public let name: String
    public let options: Options
    private let sink: LogSink?

    private struct Lifecycle {
        var process: ExecutorProcess?
        /// Start failures and deaths in a row (reset once a process completes a request).
        var failures = 0
        /// When the last one happened (monotonic ns).
        var failedAt: Int64 = 0
        var shutDown = false
    }

    /// Held while a process starts, so concurrent first calls share one start.
    private let lifecycle = Mutex(Lifecycle())
    /// One request at a time for executors whose handshake says `concurrent: false`.
    private let serial = Mutex(())

    public init(name: String, options: Options, log: LogSink? = nil) {
        self.name = name
        self.options = options
        sink = log
    }

    deinit {
        // Not waiting here (deinit may run on any thread): the process's I/O thread carries the
        // teardown (close stdin, TERM, KILL) to its end on its own.
        lifecycle.withLock { $0.process }?.requestStop(reason: "executor \(name) was shut down")
    }

    public func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        if call.isCancelled { return ExecuteResult(status: .cancelled, message: call.reason ?? "cancelled before start") }
        let requestJSON = request.encodedJSON()
        var process: ExecutorProcess
        switch running(call: call) {
        case .failure(let error): return startFailure(error, call: call)
        case .success(let started): process = started
        }
        if process.concurrent { return process.execute(requestJSON, call: call) }
        return serial.withLock { _ in
            // The process may have died while this call waited its turn.
            if !process.isUsable {
                switch running(call: call) {
                case .failure(let error): return startFailure(error, call: call)
                case .success(let started): process = started
                }
            }
            return process.execute(requestJSON, call: call)
        }
    }

    private func startFailure(_ error: SubprocessError, call: CallContext) -> ExecuteResult {
        if call.isCancelled { return ExecuteResult(status: .cancelled, message: call.reason ?? error.description) }
        return .failed(error.description)
    }

    /// Starts the executor now, if it is not running (it otherwise starts on first use), and
    /// returns its handshake.
    public func start() -> Result<SubprocessProtocol.Handshake, any Error> {
        switch running(call: nil) {
        case .failure(let error): return .failure(error)
        case .success(let process):
            return process.monitor.withLock { process.handshake }.map { .success($0) }
                ?? .failure(SubprocessError("executor \(name) is not ready"))
        }
    }

    /// The running process's id, if one is running.
    public var processID: pid_t? {
        lifecycle.withLock { state in state.process.flatMap { $0.isUsable ? $0.pid : nil } }
    }

    /// Stops the executor (close stdin, TERM, KILL, each after the stop grace) and waits until it
    /// has exited. Later calls fail. Releasing the executor starts the same teardown without waiting.
    public func shutdown() {
        let process = lifecycle.withLock { state -> ExecutorProcess? in
            state.shutDown = true
            defer { state.process = nil }
            return state.process
        }
        guard let process else { return }
        process.requestStop(reason: "executor \(name) was shut down")
        process.waitForExit(deadline: MonotonicTime.deadline(after: PlanDuration(milliseconds: 2 * options.stopGrace.milliseconds + 1000)))
    }

    // MARK: Starting

    /// The running process, starting one (after the restart backoff) when there is none.
    private func running(call: CallContext?) -> Result<ExecutorProcess, SubprocessError> {
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

/// Spawns `argv` in a new process group with stdin/stdout/stderr pipes and nothing else inherited.
/// `environment` overrides the host's; a PATH in it is also where `argv[0]` is looked up.
func spawnProcess(argv: [String], environment: [String: String]) -> Result<ps_child, SpawnErrno> {
    var strings: [String] = []
    let overridden = Set(environment.keys)
    if let base = ps_environ() {
        var index = 0
        while let entry = base[index] {
            index += 1
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
            if !overridden.contains(name) { strings.append(text) }
        }
    }
    for (name, value) in environment.sorted(by: { $0.key < $1.key }) { strings.append(name + "=" + value) }

    func cStrings(_ list: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: list.count + 1)
        for (index, text) in list.enumerated() { array[index] = UnsafePointer(strdup(text)) }
        array[list.count] = nil
        return array
    }
    func release(_ array: UnsafeMutablePointer<UnsafePointer<CChar>?>, _ count: Int) {
        for index in 0..<count { free(UnsafeMutablePointer(mutating: array[index])) }
        array.deallocate()
    }
    let argvC = cStrings(argv)
    let envC = cStrings(strings)
    defer {
        release(argvC, argv.count)
        release(envC, strings.count)
    }
    let searchPath = environment["PATH"]
    return withOptionalCString(searchPath) { searchC in
        var options = ps_spawn_options(
            argv: UnsafePointer(argvC), envp: UnsafePointer(envC), workdir: nil, search_path: searchC,
            flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_STDIN_PIPE | PS_SPAWN_PIDFD | PS_SPAWN_NEW_SESSION))
        var child = ps_child()
        let error = ps_spawn(&options, &child)
        return error == 0 ? .success(child) : .failure(SpawnErrno(code: error))
    }
}

struct SpawnErrno: Error { let code: Int32 }

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// An argument as a shell would need it, for messages.
func displayQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.utf8.allSatisfy { byte in
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "-_./=:,+@%".utf8.contains(byte)
    }
    return plain ? argument : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
