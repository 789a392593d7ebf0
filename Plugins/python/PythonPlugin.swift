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

        let deadline = request.timeoutMs.flatMap { $0 > 0 ? ps_monotonic_ns() + Int64($0) * 1_000_000 : nil }
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
            result.exitCode = exitCode(status)
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

/// What to run, from the payload.
struct PythonJob {
    enum Kind { case code(String), file(String), module(String, function: String, args: [JSON], kwargs: JSONObject) }
    var kind: Kind
    var env: [(String, String)]
    var workdir: String?

    var summary: String {
        switch kind {
        case .code(let code): return "python code (\(code.utf8.count) bytes)"
        case .file(let path): return "python file \(path)"
        case .module(let module, let function, _, _): return "python \(module).\(function)()"
        }
    }

    /// The job line for the worker (see WorkerScript.swift). Secrets, payload env and the
    /// phase's tag (PhaseTag, which nothing overrides) go into os.environ for the phase, so
    /// every process the phase's code starts carries the tag from its exec on.
    func line(id: Int, phase: String, inputs: JSONObject, secrets: [String: String], tag: [(String, String)] = []) -> [UInt8] {
        var writer = JSONWriter(capacity: 192)
        writer.beginObject()
        writer.field("id", id)
        writer.field("phase", phase)
        switch kind {
        case .code(let code):
            writer.field("kind", "code")
            writer.field("code", code)
        case .file(let path):
            writer.field("kind", "file")
            writer.field("file", path)
        case .module(let module, let function, let args, let kwargs):
            writer.field("kind", "module")
            writer.field("module", module)
            writer.field("function", function)
            if !args.isEmpty { writer.field("args", .array(args)) }
            if !kwargs.isEmpty { writer.field("kwargs", .object(kwargs)) }
        }
        if !secrets.isEmpty || !env.isEmpty || !tag.isEmpty {
            let tagged = { (name: String) in tag.contains { $0.0 == name } }
            writer.key("env")
            writer.beginObject()
            for (name, value) in secrets.sorted(by: { $0.key < $1.key })
            where !env.contains(where: { $0.0 == name }) && !tagged(name) {
                writer.field(name, value)
            }
            for (name, value) in env where !tagged(name) { writer.field(name, value) }
            for (name, value) in tag { writer.field(name, value) }
            writer.endObject()
            writer.comma()
        }
        if let workdir { writer.field("workdir", workdir) }
        writer.field("inputs", .object(inputs))
        writer.endObject()
        writer.bytes.append(0x0A)
        return writer.bytes
    }

    static func parse(_ payload: JSON) -> Result<PythonJob, PluginError> {
        guard let object = payload.objectValue else {
            return .failure(PluginError("payload must be an object, got \(payload.typeName)"))
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }
        func string(_ key: String) -> Result<String?, PluginError> {
            guard let value = present(key) else { return .success(nil) }
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                return .failure(PluginError("payload.\(key) must be a non-empty string, got \(value.typeName)"))
            }
            return .success(text)
        }
        let sources = ["code", "file", "module"].filter { present($0) != nil }
        guard !sources.isEmpty else {
            return .failure(PluginError("payload needs code (a string), file (a path) or module + function"))
        }
        guard sources.count == 1 else {
            return .failure(PluginError("payload must have exactly one of code, file and module, not "
                + sources.joined(separator: " and ")))
        }
        var kind: Kind
        switch sources[0] {
        case "code":
            guard let code = present("code")?.stringValue else {
                return .failure(PluginError("payload.code must be a string, got \(present("code")!.typeName)"))
            }
            kind = .code(code)
        case "file":
            switch string("file") {
            case .success(let path): kind = .file(path!)
            case .failure(let error): return .failure(error)
            }
        default:
            let module: String
            switch string("module") {
            case .success(let name): module = name!
            case .failure(let error): return .failure(error)
            }
            let function: String
            switch string("function") {
            case .success(let name?): function = name
            case .success(nil): return .failure(PluginError("payload.module needs payload.function (a name in it)"))
            case .failure(let error): return .failure(error)
            }
            var args: [JSON] = []
            if let value = present("args") {
                guard let array = value.arrayValue else {
                    return .failure(PluginError("payload.args must be an array, got \(value.typeName)"))
                }
                args = array
            }
            var kwargs = JSONObject()
            if let value = present("kwargs") {
                guard let map = value.objectValue else {
                    return .failure(PluginError("payload.kwargs must be an object, got \(value.typeName)"))
                }
                kwargs = map
            }
            kind = .module(module, function: function, args: args, kwargs: kwargs)
        }
        if sources[0] != "module" {
            for key in ["function", "args", "kwargs"] where present(key) != nil {
                return .failure(PluginError("payload.\(key) goes with payload.module"))
            }
        }
        var env: [(String, String)] = []
        if let value = present("env") {
            do { env = try EnvironmentVariables.parse(value, field: "payload.env") } catch { return .failure(error) }
        }
        var workdir: String?
        switch string("workdir") {
        case .success(let dir): workdir = dir
        case .failure(let error): return .failure(error)
        }
        return .success(PythonJob(kind: kind, env: env, workdir: workdir))
    }
}

/// The host's environment with `overrides` applied (later ones win), as NAME=value.
func buildEnvironment(overrides: [(String, String)]) -> [String] {
    var entries: [String] = []
    if let base = ps_environ() {
        var index = 0
        while let entry = base[index] {
            index += 1
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            // A planter run inside a phase must not pass the outer phase's tag on.
            if overrides.contains(where: { $0.0 == name }) || PhaseTag.variables.contains(name) { continue }
            entries.append(text)
        }
    }
    var seen = Set<String>()
    for (name, value) in overrides.reversed() where seen.insert(name).inserted {
        entries.append(name + "=" + value)
    }
    return entries
}

func describeExit(_ status: ps_exit_status?) -> String {
    guard let status else { return "ended (status unknown)" }
    if status.signal != 0 {
        return "was killed by signal " + SystemText.signal(status.signal) + (status.core_dumped != 0 ? " (core dumped)" : "")
    }
    return "exited with code \(status.exit_code)"
}

func exitCode(_ status: ps_exit_status?) -> Int? {
    guard let status else { return nil }
    return status.signal != 0 ? 128 + Int(status.signal) : Int(status.exit_code)
}
