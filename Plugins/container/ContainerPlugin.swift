import ExecutorKit
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// The container executor: runs a phase's process inside a container, with runc over a
/// root filesystem folder or OCI bundle, or with the docker/podman command line over an
/// image. See README.md.
final class ContainerPlugin: ExecutorPlugin, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init.
    static let name = "container"
    static let version = "1.0.0"
    static let summary: String? = "Runs scripts and commands in containers (runc, docker, podman)"
    static let concurrentExecute = true

    let runtime: Runtime
    let defaults: ContainerDefaults
    let env: [(String, String)]
    let workRoot: String
    let maxOutputsBytes: Int

    static let basePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    init(config: JSON, host: PluginHost) throws {
        guard let object = config.objectValue else {
            throw PluginError("executor config must be an object, got \(config.typeName)")
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }
        func string(_ key: String) throws -> String? {
            guard let value = present(key) else { return nil }
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                throw PluginError("config.\(key) must be a non-empty string, got \(value.typeName)")
            }
            return text
        }
        var kind = Runtime.Kind.runc
        if let name = try string("runtime") {
            guard let parsed = Runtime.Kind(rawValue: name) else {
                throw PluginError("config.runtime must be runc, docker or podman, got \(name)")
            }
            kind = parsed
        }
        let programName = try string("runtimePath") ?? kind.rawValue
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        guard let program = findProgram(programName, in: searchPath + ":/usr/sbin:/sbin") else {
            throw PluginError("config.runtime: \(programName) not found in PATH"
                + (kind == .runc ? " (Debian: apt-get install runc)" : ""))
        }
        runtime = Runtime(kind: kind, program: program, stateRoot: try string("stateRoot").map(Files.absolute))

        var defaults = ContainerDefaults()
        if let value = present("shell") {
            let strings = value.arrayValue?.compactMap(\.stringValue) ?? []
            guard !strings.isEmpty, strings.count == value.arrayValue?.count, !strings.contains(where: \.isEmpty) else {
                throw PluginError("config.shell must be a non-empty array of non-empty strings")
            }
            defaults.shell = strings
        }
        defaults.rootfs = try string("rootfs").map(Files.absolute)
        defaults.bundle = try string("bundle").map(Files.absolute)
        defaults.image = try string("image")
        if let network = try string("network") {
            guard network == "none" || network == "host" else {
                throw PluginError("config.network must be \"none\" or \"host\", got \(network)")
            }
            defaults.network = network
        }
        if let value = present("readOnlyRootfs") {
            guard let flag = value.boolValue else { throw PluginError("config.readOnlyRootfs must be a boolean") }
            defaults.readOnlyRootfs = flag
        }
        if let value = present("memory") { defaults.limits.memoryBytes = try parseMemory(value, field: "config.memory") }
        if let value = present("cpus") { defaults.limits.cpus = try parseCPUs(value, field: "config.cpus") }
        if let value = present("pids") { defaults.limits.pids = try parsePids(value, field: "config.pids") }
        self.defaults = defaults
        env = try present("env").map { try EnvironmentVariables.parse($0, field: "config.env") } ?? []

        var maxOutputs = 1 << 20
        if let value = present("maxOutputsBytes") {
            guard let bytes = value.intValue, bytes >= 0, bytes <= 1 << 30 else {
                throw PluginError("config.maxOutputsBytes must be an integer in 0...1073741824, got \(value)")
            }
            maxOutputs = bytes
        }
        maxOutputsBytes = maxOutputs
        let tmp = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        workRoot = try string("workDir").map(Files.absolute) ?? tmp
        guard Files.isDirectory(workRoot) else { throw PluginError("config.workDir \(workRoot) is not a folder") }
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        let job: ContainerJob
        switch ContainerJob.parse(request.payload, defaults: defaults) {
        case .success(let parsed): job = parsed
        case .failure(let error): return .invalid(error.message)
        }
        for (name, value) in request.secrets where !EnvironmentVariables.isValidName(name) || value.utf8.contains(0) {
            return .invalid("secret \(name) cannot be passed as an environment variable")
        }
        let name = Self.containerName(request)
        switch runtime.kind {
        case .runc:
            if job.image != nil && job.rootfs == nil && job.bundle == nil {
                return .invalid("runc needs a root filesystem: payload.rootfs or payload.bundle (image is for docker/podman)")
            }
            guard job.rootfs != nil || job.bundle != nil else {
                return .invalid("payload needs rootfs or bundle (or set config.rootfs)")
            }
        case .docker, .podman:
            guard job.image != nil else { return .invalid("payload needs image (or set config.image)") }
        }
        if request.dryRun {
            return .succeeded("dry run: would run \(job.argv.joined(separator: " ")) in container \(name) with "
                + runtime.kind.rawValue)
        }
        if call.isCancelled { return .cancelled("cancelled before start") }

        // One private folder per attempt: the bundle (runc) and the PLANTER_INPUTS/OUTPUTS
        // folder bind-mounted at /planter. Removed whatever happens.
        let attemptDir: String
        switch Files.makeTempDir(in: workRoot, prefix: "planter-container-") {
        case .success(let dir): attemptDir = dir
        case .failure(let error): return .failed(error.message)
        }
        defer { FileTree.remove(attemptDir) }
        let ioDir = attemptDir + "/io"
        if let error = Files.makeDir(ioDir, mode: 0o777) { return .failed(error) }
        chmod(ioDir, 0o777)  // mkdir applies the umask; the container's user may not be root
        var inputs = JSONWriter(capacity: 256)
        inputs.write(.object(request.inputs))
        inputs.bytes.append(0x0A)
        if let error = Files.write(inputs.bytes, to: ioDir + "/inputs.json") { return .failed(error) }

        // Environment, later wins: PATH default < config.env < secrets < payload.env < PLANTER_* (and the tag).
        var environment = [Self.basePath, "HOME=/root"]
        for (key, value) in env { environment.append(key + "=" + value) }
        for (key, value) in request.secrets.sorted(by: { $0.key < $1.key }) { environment.append(key + "=" + value) }
        for (key, value) in job.env { environment.append(key + "=" + value) }
        environment.append("PLANTER_INPUTS=\(containerIODir)/inputs.json")
        environment.append("PLANTER_OUTPUTS=\(containerIODir)/outputs.json")
        // The tag (PhaseTag): the container's processes are host processes too, so after a
        // crash the next start finds them in /proc by it and kills them; runc (or docker)
        // then sees the container's init die and ends.
        environment.append(contentsOf: PhaseTag.entries(request))
        environment = Self.lastWins(environment)

        let argv: [String]
        switch runtime.kind {
        case .runc:
            if let error = RuncBundle.write(job: job, env: environment, readOnlyDefault: defaults.readOnlyRootfs,
                                            ioDir: ioDir, into: attemptDir) {
                return .failed(error)
            }
            argv = runtime.runArgv(bundle: attemptDir, name: name)
        case .docker, .podman:
            guard let image = job.image else { return .invalid("payload needs image (or set config.image)") }
            argv = runtime.cliRunArgv(job: job, env: environment, image: image, ioDir: ioDir, name: name)
        }

        let runner = ContainerRun(runtime: runtime, name: name, call: call, timeoutMs: request.timeoutMs)
        let outcome: ContainerRun.Outcome
        switch runner.run(argv: argv) {
        case .success(let ended): outcome = ended
        case .failure(let error): return .failed(error.message)
        }
        // `run` deletes a container that ended by itself; one we killed (or whose runtime
        // died) may still be registered.
        if outcome.ending != nil || outcome.status?.signal != 0 || outcome.status == nil {
            _ = runQuick(runtime.deleteArgv(name: name))
        }
        var result = ContainerResult.make(outcome, timeoutMs: request.timeoutMs, runtime: runtime.kind)
        if result.status == .succeeded {
            // No links: the container wrote the file, and its link would point into the host.
            switch OutputsFile.read(ioDir + "/outputs.json", limit: maxOutputsBytes, followLinks: false) {
            case .success(let outputs): result.outputs = outputs ?? JSONObject()
            case .failure(let error): result = PluginResult(status: .failed, exitCode: result.exitCode, message: error.message)
            }
        }
        return result
    }

    /// `planter-<run>-<phase>-<attempt>-<random>`, in the characters runc and docker accept.
    static func containerName(_ request: PluginRequest) -> String {
        func clean(_ text: String, _ limit: Int) -> String {
            let mapped = text.unicodeScalars.prefix(limit).map { scalar -> Character in
                let ok = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                    || (scalar >= "0" && scalar <= "9") || scalar == "_" || scalar == "." || scalar == "-"
                return ok ? Character(scalar) : "-"
            }
            return mapped.isEmpty ? "x" : String(mapped)
        }
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "planter-\(clean(request.runId, 40))-\(clean(request.phaseId, 60))-\(request.attempt)-\(random)"
    }

    static func lastWins(_ entries: [String]) -> [String] {
        var seen = Set<Substring>()
        var kept: [String] = []
        for entry in entries.reversed() where seen.insert(entry.prefix { $0 != "=" }).inserted { kept.append(entry) }
        return kept.reversed()
    }
}
