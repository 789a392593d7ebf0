import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// The python executor: runs a phase's Python code (`code`, `file` or `module` +
/// `function`) in a fresh interpreter per attempt, or on a pool of warm workers.
/// See README.md for the payload, the config and the pool's semantics.
final class PythonPlugin: ExecutorPlugin, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init (the pool is Sendable).
    static let name = "python"
    static let version = "1.0.0"
    static let summary: String? = "Runs Python code in fresh interpreters or on a pool of warm workers"
    static let concurrentExecute = true

    let settings: WorkerSettings
    let pool: WorkerPool?
    let poolSize: Int

    init(config: JSON, host: PluginHost) throws {
        guard let object = config.objectValue else {
            throw PluginError("executor config must be an object, got \(config.typeName)")
        }
        var interpreter = "python3"
        if let value = object["interpreter"], !value.isNull {
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                throw PluginError("config.interpreter must be a non-empty string, got \(value.typeName)")
            }
            interpreter = text
        }
        var poolSize = 0
        if let value = object["pool"], !value.isNull {
            guard let size = value.intValue, size >= 0, size <= 256 else {
                throw PluginError("config.pool must be an integer from 0 to 256, got \(value)")
            }
            poolSize = size
        }
        var maxOutputs = 1 << 20
        if let value = object["maxOutputsBytes"], !value.isNull {
            guard let bytes = value.intValue, bytes > 0 else {
                throw PluginError("config.maxOutputsBytes must be a positive integer, got \(value)")
            }
            maxOutputs = bytes
        }
        var overrides: [(String, String)] = []
        if let value = object["env"], !value.isNull {
            overrides = try EnvironmentVariables.parse(value, field: "config.env")
        }
        let environment = buildEnvironment(overrides: overrides)
        // A bare name is looked up in PATH (config.env's, else the host's) now, so a
        // missing interpreter is a creation error, not a failure of every phase.
        var program = interpreter
        if !interpreter.contains("/") {
            let path = overrides.last(where: { $0.0 == "PATH" })?.1 ?? getenv("PATH").map { String(cString: $0) }
                ?? "/usr/local/bin:/usr/bin:/bin"
            guard let found = findProgram(interpreter, in: path) else {
                throw PluginError("config.interpreter: \(interpreter) not found in PATH (\(path))")
            }
            program = found
        } else if access(interpreter, X_OK) != 0 {
            throw PluginError("config.interpreter: cannot run \(interpreter): \(SystemText.error(errno))")
        }
        settings = WorkerSettings(
            interpreter: program, searchPath: false, maxOutputsBytes: maxOutputs, environment: environment)
        self.poolSize = poolSize
        pool = poolSize > 0 ? try WorkerPool(size: poolSize, settings: settings, host: host) : nil
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        let job: PythonJob
        switch PythonJob.parse(request.payload) {
        case .success(let parsed): job = parsed
        case .failure(let error): return .invalid(error.message)
        }
        if request.dryRun { return .succeeded("dry run: would run " + job.summary) }
        if call.isCancelled { return .cancelled("cancelled before start") }
        for (name, value) in request.secrets where !EnvironmentVariables.isValidName(name) || value.utf8.contains(0) {
            return .invalid("secret \(name) cannot be passed as an environment variable")
        }

        let deadline = ChildWatcher.deadline(afterMs: request.timeoutMs)
        let worker: Worker
        if let pool {
            switch pool.checkout(call: call) {
            case .worker(let checkedOut): worker = checkedOut
            case .refused(let result): return result
            }
        } else {
            switch Worker.spawn(settings, oneShot: true) {
            case .success(let spawned): worker = spawned
            case .failure(let error): return .failed(error.message, exitCode: 127)
            }
        }

        let line = job.line(id: worker.newJobID, phase: request.phaseId, inputs: request.inputs,
                            secrets: request.secrets, tag: PhaseTag.pairs(request))
        let outcome = worker.run(
            job: line, call: call, deadlineNs: deadline, maxReplyBytes: settings.maxOutputsBytes + 256 * 1024)

        switch outcome {
        case .reply(let reply):
            let result = Self.result(fromReply: reply)
            if let pool { pool.checkin(worker) } else { worker.kill() }
            return result
        case .died:
            let status = pool.map { $0.replace(worker) } ?? worker.kill()
            let what = pool == nil ? "python" : "python worker \(worker.pid)"
            var result = PluginResult.failed("\(what) \(describeExit(status)) before the phase finished"
                + (pool == nil ? "" : "; worker replaced"))
            result.exitCode = status?.shellExitCode
            return result
        case .cancelled:
            _ = pool.map { $0.replace(worker) } ?? worker.kill()
            return .cancelled(pool == nil ? "cancelled (python killed)" : "cancelled (python worker killed and replaced)")
        case .timedOut:
            _ = pool.map { $0.replace(worker) } ?? worker.kill()
            return .failed("timed out after \(SystemText.milliseconds(request.timeoutMs ?? 0)) ("
                + (pool == nil ? "python killed)" : "python worker killed and replaced)"))
        case .replyTooLarge:
            _ = pool.map { $0.replace(worker) } ?? worker.kill()
            return .failed("outputs are more than maxOutputsBytes (\(settings.maxOutputsBytes))")
        }
    }

    /// The worker's reply: {"id":..,"status":..,"message":..,"exitCode":..,"outputs":{..}}.
    static func result(fromReply reply: [UInt8]) -> PluginResult {
        let json: JSON
        do {
            json = try JSONParser.parse(reply)
        } catch {
            return .failed("python worker sent a reply that is not valid JSON: \(error)")
        }
        guard let object = json.objectValue, let status = object["status"]?.stringValue else {
            return .failed("python worker sent a reply without a status")
        }
        let outputs = object["outputs"]?.objectValue ?? JSONObject()
        let exitCode = object["exitCode"]?.intValue
        let message = object["message"]?.stringValue
        if status == "succeeded" {
            return .succeeded(message ?? "ok", exitCode: exitCode, outputs: outputs)
        }
        return .failed(message ?? "failed", exitCode: exitCode)
    }
}
