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
    let sink: LogSink?

    struct Lifecycle {
        var process: ExecutorProcess?
        /// Start failures and deaths in a row (reset once a process completes a request).
        var failures = 0
        /// When the last one happened (monotonic ns).
        var failedAt: Int64 = 0
        var shutDown = false
    }

    /// Held while a process starts, so concurrent first calls share one start.
    let lifecycle = Mutex(Lifecycle())
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

    func startFailure(_ error: SubprocessError, call: CallContext) -> ExecuteResult {
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
}
