/// The container runtime's command lines.
struct Runtime: Sendable {
    enum Kind: String, Sendable { case runc, docker, podman }
    var kind: Kind
    /// The runtime binary (resolved at create time).
    var program: String
    /// runc's --root (state folder); nil = runc's default.
    var stateRoot: String?

    private var globalArgs: [String] {
        guard kind == .runc, let stateRoot else { return [] }
        return ["--root", stateRoot]
    }

    func runArgv(bundle: String, name: String) -> [String] {
        [program] + globalArgs + ["run", "--bundle", bundle, name]
    }

    /// docker/podman: `run --rm` with everything on the command line.
    func cliRunArgv(job: ContainerJob, env: [String], image: String, ioDir: String, name: String) -> [String] {
        var argv = [program, "run", "--rm", "--name", name, "--network", job.network == "none" ? "none" : "host"]
        for entry in env { argv += ["--env", entry] }
        if let workdir = job.workdir { argv += ["--workdir", workdir] }
        argv += ["--volume", ioDir + ":" + containerIODir + ":rw"]
        for mount in job.mounts {
            argv += ["--volume", mount.source + ":" + mount.destination + (mount.readWrite ? ":rw" : ":ro")]
        }
        if let bytes = job.limits.memoryBytes { argv += ["--memory", String(bytes)] }
        if let cpus = job.limits.cpus { argv += ["--cpus", String(cpus)] }
        if let pids = job.limits.pids { argv += ["--pids-limit", String(pids)] }
        argv += ["--entrypoint", job.argv[0], image]
        argv += job.argv.dropFirst()
        return argv
    }

    func killArgv(name: String) -> [String] {
        kind == .runc ? [program] + globalArgs + ["kill", name, "KILL"] : [program, "kill", name]
    }

    func deleteArgv(name: String) -> [String] {
        kind == .runc ? [program] + globalArgs + ["delete", "--force", name] : [program, "rm", "--force", name]
    }
}
