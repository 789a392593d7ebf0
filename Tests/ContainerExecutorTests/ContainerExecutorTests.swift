import Dispatch
import ExecutorRuntime
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These tests run real containers with runc over a busybox-static root filesystem, through
// the real libplanter-container.so (dlopen + the C ABI). When runc is missing or cannot
// start containers here, each test fails with the reason (runc's own stderr), never passes
// silently.

@Suite struct ContainerExecutorTests {
    @Test func loadsWithMetadata() throws {
        let plugin = try Fixture.plugin()
        #expect(plugin.name == "container")
        #expect(plugin.abiVersion == 1)
        #expect(plugin.concurrentExecute)
    }

    @Test func badConfigIsRefusedWithItsField() throws {
        let plugin = try Fixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "c", config: ["runtime": "lxc"]) } throws: {
            "\($0)".contains("config.runtime")
        }
        #expect { _ = try plugin.makeExecutor(name: "c", config: ["runtime": "runc", "runtimePath": "/nonexistent/runc"]) }
            throws: { "\($0)".contains("not found") }
        #expect { _ = try plugin.makeExecutor(name: "c", config: ["network": "bridge"]) } throws: {
            "\($0)".contains("config.network")
        }
    }

    @Test func echoRunsInsideTheContainer() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(env, ["script": "echo hello; echo oops >&2; hostname"])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.result.exitCode == 0)
        #expect(run.stdout == "hello\nplanter\n")
        #expect(run.stderr == "oops\n")
        #expect(Fixture.containers(env).isEmpty)
    }

    @Test func commandEnvWorkdirAndSecrets() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(
            env,
            ["command": ["sh", "-c", "echo \"$FROM_CONFIG|$FROM_PAYLOAD|$TOKEN|$PATH\"; pwd"],
             "env": ["FROM_PAYLOAD": "p"], "workdir": "/tmp"],
            config: ["env": ["FROM_CONFIG": "c"]], secrets: ["TOKEN": "s3cret"])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.stdout == "c|p|s3cret|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/tmp\n")
    }

    @Test func exitCodesAreReportedLikeTheShellPlugin() throws {
        let env = try Fixture.ready()
        let three = Fixture.run(env, ["script": "echo partial; exit 3"])
        #expect(three.result.status == .failed)
        #expect(three.result.exitCode == 3)
        #expect(three.result.message == "exit 3", "\(three.result.message)")
        #expect(three.stdout == "partial\n")

        // Not `kill $$`: the script is PID 1 of its namespace, which ignores unhandled signals.
        let signalled = Fixture.run(env, ["script": "sh -c 'kill -USR1 $$'; exit $?"])
        #expect(signalled.result.status == .failed)
        #expect(signalled.result.exitCode == 128 + Int(SIGUSR1), "\(signalled.result)")
        #expect(signalled.result.message.contains("SIGUSR1"), "\(signalled.result.message)")
    }

    @Test func networkIsNoneByDefault() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(env, ["script": "cat /proc/net/dev"])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        func interfaces(_ text: String) -> [String] {
            text.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: ":").first?.filter { $0 != " " } }
        }
        #expect(interfaces(run.stdout) == ["lo"], "\(run.stdout)")

        // With network: host the host's interfaces are visible (their names: the counters move meanwhile).
        let host = Fixture.run(env, ["script": "cat /proc/net/dev", "network": "host"])
        #expect(host.result.status == .succeeded, "\(host.result) \(host.stderr)")
        #expect(interfaces(host.stdout) == interfaces(readText("/proc/net/dev") ?? ""), "\(host.stdout)")
    }

    @Test func mountsAreReadOnlyUnlessReadWrite() throws {
        let env = try Fixture.ready()
        let data = try TempDir()
        try data.write("in.txt", "from the host\n")
        let run = Fixture.run(env, [
            "script": "cat /data/in.txt; if echo x > /data/new.txt; then echo wrote; else echo refused; fi",
            "mounts": [["source": .string(data.path), "destination": "/data"]],
        ])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.stdout == "from the host\nrefused\n")
        #expect(!data.exists("new.txt"))

        let writable = Fixture.run(env, [
            "script": "echo x > /data/new.txt && echo wrote",
            "mounts": [.string(data.path + ":/data:rw")],
        ])
        #expect(writable.stdout == "wrote\n", "\(writable.result) \(writable.stderr)")
        #expect(data.exists("new.txt"))

        let rootfs = Fixture.run(env, ["script": "touch /bin/new 2>/dev/null && echo wrote || echo readonly-root"])
        #expect(rootfs.stdout == "readonly-root\n")
    }

    @Test func outputsComeFromPlanterOutputsAndInputsFromPlanterInputs() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(
            env,
            ["script": "cat \"$PLANTER_INPUTS\"; echo '{\"built\": \"yes\", \"n\": 2}' > \"$PLANTER_OUTPUTS\""],
            inputs: ["fetch": ["rev": "abc"]])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.stdout == "{\"fetch\":{\"rev\":\"abc\"}}\n")
        #expect(run.result.outputs == ["built": "yes", "n": 2])

        let bad = Fixture.run(env, ["script": "echo '[1]' > \"$PLANTER_OUTPUTS\""])
        #expect(bad.result.status == .failed)
        #expect(bad.result.message.contains("must hold a JSON object"), "\(bad.result.message)")

        let big = Fixture.run(env, ["script": "printf '{\"a\":\"%0500d\"}' 0 > \"$PLANTER_OUTPUTS\""],
                              config: ["maxOutputsBytes": 100])
        #expect(big.result.status == .failed)
        #expect(big.result.message.contains("outputs too large"), "\(big.result.message)")
    }

    @Test func timeoutKillsTheContainerAndLeavesNothingBehind() throws {
        let env = try Fixture.ready()
        // A duration of its own, so a process left by another run cannot be mistaken for ours;
        // at least 300 s, so a run that ends at all was ended by the limit.
        let sleep = "sleep \(300 + Int.random(in: 0..<100_000))"
        let run = Fixture.run(env, ["script": .string("echo started; \(sleep)")], timeoutMs: 600)
        #expect(run.result.status == .failed)
        #expect(run.result.message.hasPrefix("timed out after 600 ms"), "\(run.result.message)")
        #expect(run.stdout == "started\n")
        #expect(Fixture.containers(env).isEmpty, "runc list: \(Fixture.containers(env))")
        #expect(Fixture.leftoverBundles(env).isEmpty, "bundle folders left: \(Fixture.leftoverBundles(env))")
        #expect(Fixture.processGone(commandLine: sleep), "the container's process survived")
    }

    @Test func cancelKillsTheContainer() throws {
        let env = try Fixture.ready()
        let marker = try TempDir()
        let start = ContinuousClock.now
        let sleep = "sleep \(300 + Int.random(in: 0..<100_000))"
        let run = Fixture.run(
            env,
            ["script": .string("touch /m/started; \(sleep)"), "mounts": [.string(marker.path + ":/m:rw")]]
        ) { context in
            DispatchQueue.global().async {
                while !marker.exists("started") && ContinuousClock.now - start < .seconds(30) { usleep(5_000) }
                context.cancel()
            }
        }
        // The script would run at least 300 s: only the cancel ends it.
        #expect(run.result.status == .cancelled, "\(run.result) \(run.stderr)")
        #expect(Fixture.containers(env).isEmpty, "runc list: \(Fixture.containers(env))")
        #expect(Fixture.leftoverBundles(env).isEmpty)
        #expect(Fixture.processGone(commandLine: sleep), "the container's process survived")
    }

    @Test func limitsReachTheCgroup() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(env, [
            "script": "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
            "pids": 42, "memory": "64m",
        ])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.stdout == "42\n")
    }

    @Test func missingRootfsFailsWithTheRuntimesReason() throws {
        let env = try Fixture.ready()
        let run = Fixture.run(env, ["script": "true", "rootfs": "/nonexistent-rootfs"])
        #expect(run.result.status == .failed)
        #expect(run.result.message.contains("/nonexistent-rootfs"), "\(run.result.message)")
        let noProgram = Fixture.run(env, ["command": ["/bin/planter-no-such-program"]])
        #expect(noProgram.result.status == .failed)
        #expect(noProgram.result.message.contains("planter-no-such-program"), "\(noProgram.result.message)")
        #expect(Fixture.containers(env).isEmpty)
    }

    @Test func ociBundleConfigIsTheBase() throws {
        let env = try Fixture.ready()
        let bundle = try TempDir()
        try #require(symlink(env.rootfs, bundle.path + "/rootfs") == 0)
        try bundle.write("config.json", """
            {"ociVersion": "1.0.2", "process": {"args": ["sh"], "env": ["FROM_BUNDLE=b", "PATH=/bin"], "cwd": "/"},
             "root": {"path": "rootfs", "readonly": true}, "hostname": "bundled",
             "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
             "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}}
            """)
        let run = Fixture.run(env, ["script": "echo $FROM_BUNDLE; hostname; wc -l < /proc/net/dev", "bundle": .string(bundle.path)])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.stdout == "b\nbundled\n3\n", "network none adds a namespace with only lo")
    }

    @Test(arguments: [(JSON, String)]([
        (JSON.object([:]), "payload needs script"),
        (JSON(["script": "true", "command": ["true"]]), "not both"),
        (JSON(["script": "true", "mounts": ["/etc"]]), "payload.mounts[0]"),
        (JSON(["script": "true", "mounts": [["source": "/nonexistent-x", "destination": "/x"]]]), "nonexistent-x"),
        (JSON(["script": "true", "network": "bridge"]), "payload.network"),
        (JSON(["script": "true", "memory": "lots"]), "payload.memory"),
        (JSON(["script": "true", "workdir": "tmp"]), "payload.workdir must be an absolute path"),
        (JSON(["script": "true", "image": "busybox"]), "image is for docker/podman"),
    ]))
    func invalidPayloads(payload: JSON, message: String) throws {
        let env = try Fixture.ready()
        let run = Fixture.run(env, payload)
        #expect(run.result.status == .invalid)
        #expect(run.result.message.contains(message), "\(run.result.message)")
    }
}

// MARK: - Fixture

extension JSON {
    init(_ value: JSON) { self = value }
}

enum Fixture {

    static func plugin() throws -> Plugin { try BuiltPlugin.load("container") }

    /// The environment, or an Issue recorded with the exact reason and a thrown error.
    /// Each test gets its own runc state root and work folder, so `runc list` and the
    /// leftover checks see only its own containers while tests run in parallel.
    static func ready() throws -> ContainerEnvironment {
        switch ContainerEnvironment.fresh() {
        case .success(let env): return env
        case .failure(let missing):
            Issue.record(Comment(rawValue: missing.description))
            throw missing
        }
    }

    static func executor(_ env: ContainerEnvironment, config: JSON = [:]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "container", config: env.config(config))
    }

    static func request(_ payload: JSON, timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(),
                        secrets: [String: String] = [:]) -> ExecuteRequest {
        ExecuteRequest(runId: "r-test", phaseId: "p", executor: "container", payload: payload, timeoutMs: timeoutMs,
                       inputs: inputs, secrets: secrets)
    }

    static func run(
        _ env: ContainerEnvironment, _ payload: JSON, config: JSON = [:], timeoutMs: Int? = nil,
        inputs: JSONObject = JSONObject(), secrets: [String: String] = [:], during: (CallContext) -> Void = { _ in }
    ) -> Run {
        let collector = Collector()
        let context = CallContext(output: { collector.append($0, $1) })
        do {
            let executor = try executor(env, config: config)
            during(context)
            let result = executor.execute(request(payload, timeoutMs: timeoutMs, inputs: inputs, secrets: secrets),
                                          call: context)
            return collector.run(result)
        } catch {
            return Run(result: .failed("cannot create the executor: \(error)"), stdout: "", stderr: "")
        }
    }

    /// `runc list` over the tests' state root: container ids still registered.
    static func containers(_ env: ContainerEnvironment) -> [String] {
        let output = capture(["runc", "--root", env.stateRoot, "list", "--quiet"])
        return output.split(separator: "\n").map(String.init)
    }

    static func leftoverBundles(_ env: ContainerEnvironment) -> [String] { listDir(env.workDir) }

    /// No live process (zombies aside) has this command line; waits up to 10 s (kills are
    /// delivered asynchronously).
    static func processGone(commandLine: String) -> Bool {
        for _ in 0..<1000 {
            if !processExists(commandLine: commandLine) { return true }
            usleep(10_000)
        }
        return false
    }

    static func processExists(commandLine needle: String) -> Bool {
        for entry in listDir("/proc") where entry.allSatisfy(\.isNumber) {
            guard let cmdline = readText("/proc/\(entry)/cmdline") else { continue }
            if cmdline.split(separator: "\0").joined(separator: " ") == needle {
                let stat = readText("/proc/\(entry)/stat") ?? ""
                if let paren = stat.lastIndex(of: ")"), stat[stat.index(after: paren)...].dropFirst().first == "Z" { continue }
                return true
            }
        }
        return false
    }
}

/// Runs a command and returns its stdout (tests only; blocking).
func capture(_ argv: [String]) -> String {
    guard let pipe = popen(argv.map { "'" + $0 + "'" }.joined(separator: " ") + " 2>/dev/null", "r") else { return "" }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, pipe)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[..<n])
    }
    pclose(pipe)
    return String(decoding: bytes, as: UTF8.self)
}

func listDir(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
