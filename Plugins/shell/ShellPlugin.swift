import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// The shell executor: runs a phase's `script` through a shell, or its `command` argv
/// directly, in its own process group. See README.md for the payload and behaviour.
final class ShellPlugin: ExecutorPlugin, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; `environment` owns C
    // memory that is only read (concurrently) until deinit.
    static let name = "shell"
    static let version = "1.0.0"
    static let summary: String? = "Runs scripts and commands in a process group"
    static let concurrentExecute = true

    let shell: [String]
    let killGraceMs: Int
    /// The host environment as of create(), with config.env applied.
    let environment: EnvironmentBlock
    /// PATH for command lookup when config.env sets one (else the host's is used).
    let configPath: String?
    /// The largest PLANTER_OUTPUTS file accepted.
    let maxOutputsBytes: Int
    /// The private folder holding each attempt's PLANTER_INPUTS/PLANTER_OUTPUTS files.
    let phaseFolder: PhaseFolder

    init(config: JSON, host: PluginHost) throws {
        guard let object = config.objectValue else {
            throw PluginError("executor config must be an object, got \(config.typeName)")
        }
        var shell = ["/bin/sh", "-c"]
        if let value = object["shell"], !value.isNull {
            let strings = value.arrayValue?.compactMap(\.stringValue) ?? []
            guard !strings.isEmpty, strings.count == value.arrayValue?.count,
                !strings.contains(where: { $0.isEmpty || $0.utf8.contains(0) })
            else { throw PluginError("config.shell must be a non-empty array of non-empty strings") }
            shell = strings
        }
        var grace = 5000
        if let value = object["killGraceMs"], !value.isNull {
            guard let ms = value.intValue, ms >= 0, ms <= 3_600_000 else {
                throw PluginError("config.killGraceMs must be an integer from 0 to 3600000 (an hour), got \(value)")
            }
            grace = ms
        }
        var maxOutputs = 1 << 20
        if let value = object["maxOutputsBytes"], !value.isNull {
            guard let bytes = value.intValue, bytes >= 0, bytes <= 1 << 30 else {
                throw PluginError("config.maxOutputsBytes must be an integer in 0...1073741824, got \(value)")
            }
            maxOutputs = bytes
        }
        var env: [(String, String)] = []
        if let value = object["env"], !value.isNull {
            env = try EnvironmentVariables.parse(value, field: "config.env")
        }
        self.shell = shell
        killGraceMs = grace
        configPath = env.last(where: { $0.0 == "PATH" })?.1
        maxOutputsBytes = maxOutputs
        var tmpdir = getenv("TMPDIR").map { String(cString: $0) } ?? ""
        if let value = object["tempDir"], !value.isNull {
            guard let text = value.stringValue, text.hasPrefix("/"), !text.utf8.contains(0) else {
                throw PluginError("config.tempDir must be an absolute path, got \(value)")
            }
            tmpdir = text
        }
        // config.tempDir, else $TMPDIR when set; else /dev/shm (memory: writing an inputs file
        // costs a few microseconds there, tens on a journaled disk), else /tmp.
        let tempRoot = tmpdir.hasPrefix("/") ? String(tmpdir.reversed().drop(while: { $0 == "/" }).reversed())
            : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        switch PhaseFolder.make(tempRoot: tempRoot) {
        case .success(let folder): phaseFolder = folder
        case .failure(let error): throw error
        }
        // Every attempt sets its own PLANTER_INPUTS/PLANTER_OUTPUTS: neither the host's (a
        // planter run from a phase) nor config.env's reach a child.
        environment = EnvironmentBlock(base: ps_environ(), overrides: env,
                                       dropping: PhaseFiles.variables + PhaseTag.variables)
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        let job: Job
        switch Job.parse(request.payload, shell: shell) {
        case .success(let parsed): job = parsed
        case .failure(let error): return .invalid(error.message)
        }
        if request.dryRun {
            var message = "dry run: would run " + job.argv.map(shellQuoted).joined(separator: " ")
            if let workdir = job.workdir { message += " in " + workdir }
            return .succeeded(message)
        }
        if call.isCancelled { return .cancelled("cancelled before start") }

        // Later entries win: config.env (already in the block) < secrets < payload.env < PLANTER_*.
        var overrides: [(String, String)] = []
        overrides.reserveCapacity(request.secrets.count + job.env.count + 2)
        for (name, value) in request.secrets.sorted(by: { $0.key < $1.key }) {
            guard EnvironmentVariables.isValidName(name), !value.utf8.contains(0) else {
                return .invalid("secret \(name) cannot be passed as an environment variable")
            }
            overrides.append((name, value))
        }
        overrides.append(contentsOf: job.env)
        // PLANTER_INPUTS/PLANTER_OUTPUTS and the tag are always this attempt's (added last, below).
        overrides.removeAll { PhaseFiles.variables.contains($0.0) || PhaseTag.variables.contains($0.0) }
        let searchPath = overrides.last(where: { $0.0 == "PATH" })?.1 ?? configPath

        let files: PhaseFiles
        switch phaseFolder.files(inputs: request.inputs) {
        case .failure(let error): return .failed(error.message)
        case .success(let created): files = created
        }
        // The outputs file is unlinked unless it is known not to exist.
        var outputsExist = true
        defer { phaseFolder.release(files, outputsExisted: outputsExist) }
        let planterVariables = [PhaseFiles.inputsVariable + "=" + files.inputsPath,
                                PhaseFiles.outputsVariable + "=" + files.outputsPath] + PhaseTag.entries(request)
        let spawned = environment.withEnvironment(overrides, extra: planterVariables) { envp in
            ShellProcess.spawn(argv: job.argv, envp: envp, workdir: job.workdir, searchPath: searchPath)
        }
        switch spawned {
        case .failure(let error):
            outputsExist = false  // nothing ran that could have written it
            return ShellProcess.spawnFailure(errno: error.code, argv: job.argv, workdir: job.workdir)
        case .success(var child):
            var result = ShellProcess.run(&child, call: call, timeoutMs: request.timeoutMs, killGraceMs: killGraceMs)
            // Outputs count only for a run that succeeded; a bad outputs file fails it.
            if result.status == .succeeded {
                switch OutputsFile.read(files.outputsPath, limit: maxOutputsBytes) {
                case .success(let outputs):
                    result.outputs = outputs ?? JSONObject()
                    outputsExist = outputs != nil
                case .failure(let error):
                    result = PluginResult(status: .failed, exitCode: result.exitCode, message: error.message)
                }
            }
            return result
        }
    }
}

/// What to run, from the payload.
struct Job {
    var argv: [String]
    var env: [(String, String)]
    var workdir: String?

    static func parse(_ payload: JSON, shell: [String]) -> Result<Job, PluginError> {
        guard let object = payload.objectValue else {
            return .failure(PluginError("payload must be an object, got \(payload.typeName)"))
        }
        let script = object["script"].flatMap { $0.isNull ? nil : $0 }
        let command = object["command"].flatMap { $0.isNull ? nil : $0 }
        var argv: [String]
        switch (script, command) {
        case (nil, nil):
            return .failure(PluginError("payload needs script (a string) or command (an array of strings)"))
        case (.some, .some):
            return .failure(PluginError("payload must have either script or command, not both"))
        case (let script?, nil):
            guard let text = script.stringValue else {
                return .failure(PluginError("payload.script must be a string, got \(script.typeName)"))
            }
            guard !text.utf8.contains(0) else { return .failure(PluginError("payload.script contains a NUL byte")) }
            argv = shell
            argv.append(text)
        case (nil, let command?):
            guard let array = command.arrayValue else {
                return .failure(PluginError("payload.command must be an array of strings, got \(command.typeName)"))
            }
            guard !array.isEmpty else { return .failure(PluginError("payload.command must not be empty")) }
            argv = []
            argv.reserveCapacity(array.count)
            for (index, element) in array.enumerated() {
                guard let text = element.stringValue else {
                    return .failure(PluginError("payload.command must be an array of strings "
                        + "(payload.command[\(index)] is \(element.typeName))"))
                }
                guard !text.utf8.contains(0) else {
                    return .failure(PluginError("payload.command[\(index)] contains a NUL byte"))
                }
                argv.append(text)
            }
            guard !argv[0].isEmpty else { return .failure(PluginError("payload.command[0] must not be empty")) }
        }
        var env: [(String, String)] = []
        if let value = object["env"], !value.isNull {
            do { env = try EnvironmentVariables.parse(value, field: "payload.env") } catch { return .failure(error) }
        }
        var workdir: String?
        if let value = object["workdir"], !value.isNull {
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                return .failure(PluginError("payload.workdir must be a non-empty string, got \(value.typeName)"))
            }
            workdir = text
        }
        return .success(Job(argv: argv, env: env, workdir: workdir))
    }
}

/// Quotes an argument for display in messages (dry run), the way sh would read it back.
func shellQuoted(_ argument: String) -> String {
    let safe = argument.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "+"),
            UInt8(ascii: "@"):
            return true
        default: return false
        }
    }
    if safe && !argument.isEmpty { return argument }
    return "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
