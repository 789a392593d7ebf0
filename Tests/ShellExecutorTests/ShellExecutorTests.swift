import Dispatch
import ExecutorRuntime
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These tests drive the real libplanter-shell.so through the host's loader and
// PluginExecutor, i.e. the same dlopen + C ABI path the runner uses.

@Suite struct ShellExecutorTests {
    @Test func loadsWithMetadata() throws {
        let plugin = try Fixture.plugin()
        #expect(plugin.name == "shell")
        #expect(plugin.abiVersion == 1)
        #expect(plugin.concurrentExecute)
        #expect(!plugin.summary.isEmpty)
    }

    @Test func badConfigIsRefusedWithItsField() throws {
        let plugin = try Fixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["shell": "bash"]) } throws: { error in
            "\(error)".contains("config.shell")
        }
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["killGraceMs": -1]) } throws: { error in
            "\(error)".contains("config.killGraceMs")
        }
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["env": ["A": 1]]) } throws: { error in
            "\(error)".contains("config.env.A")
        }
    }

    @Test func runsAScriptAndSeparatesStreams() throws {
        let run = try Fixture.run(["script": "echo hello; echo oops >&2"])
        #expect(run.result.status == .succeeded)
        #expect(run.result.exitCode == 0)
        #expect(run.stdout == "hello\n")
        #expect(run.stderr == "oops\n")
    }

    @Test func configuredShellIsUsed() throws {
        // argv = shell + [script]: this shell prints a marker, then evaluates the script ($1).
        let run = try Fixture.run(
            ["script": "echo from-script"],
            config: ["shell": ["/bin/sh", "-c", "echo custom-shell; eval \"$1\"", "sh"], "killGraceMs": 200])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == "custom-shell\nfrom-script\n")
    }

    @Test func runsACommandWithoutAShell() throws {
        let run = try Fixture.run(["command": ["printf", "%s|", "a b", "$HOME", "c"]])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == "a b|$HOME|c|")
    }

    @Test func missingProgramFailsWith127() throws {
        let run = try Fixture.run(["command": ["planter-no-such-program-xyz"]])
        #expect(run.result.status == .failed)
        #expect(run.result.exitCode == 127)
        #expect(run.result.message.contains("planter-no-such-program-xyz"))
    }

    @Test func environmentLayersAndSecrets() throws {
        let run = try Fixture.run(
            ["script": "echo \"$FROM_CONFIG|$FROM_PAYLOAD|$API_TOKEN|$SHARED|${PATH:+path}\"",
             "env": ["FROM_PAYLOAD": "p", "SHARED": "payload wins"]],
            config: ["env": ["FROM_CONFIG": "c", "SHARED": "config"], "killGraceMs": 200],
            secrets: ["API_TOKEN": "s3cret", "SHARED": "secret"])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == "c|p|s3cret|payload wins|path\n")
    }

    @Test func secretsAloneReachTheEnvironment() throws {
        let run = try Fixture.run(["command": ["/bin/sh", "-c", "printenv API_TOKEN"]], secrets: ["API_TOKEN": "tok"])
        #expect(run.stdout == "tok\n")
    }

    @Test func workdirIsUsed() throws {
        let dir = try TempDir()
        let run = try Fixture.run(["script": "pwd; ls", "workdir": .string(dir.path)])
        try dir.write("marker", "")
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout.hasPrefix(dir.path + "\n"))

        let missing = try Fixture.run(["script": "true", "workdir": .string(dir.path + "/nope")])
        #expect(missing.result.status == .failed)
        #expect(missing.result.message.contains("workdir"), "\(missing.result)")
    }

    @Test func nonZeroExitFails() throws {
        let run = try Fixture.run(["script": "echo partial; exit 3"])
        #expect(run.result.status == .failed)
        #expect(run.result.exitCode == 3)
        #expect(run.result.message == "exit 3")
        #expect(run.stdout == "partial\n")
    }

    @Test func deathBySignalIs128PlusSignal() throws {
        let run = try Fixture.run(["script": "kill -USR1 $$"])
        #expect(run.result.status == .failed)
        #expect(run.result.exitCode == 128 + Int(SIGUSR1))
        #expect(run.result.message.contains("SIGUSR1"), "\(run.result.message)")
    }

    @Test func outputIsStreamedWhileTheProcessRuns() throws {
        // The script prints a, then waits for a gate file that the host side creates when "a"
        // reaches it: b comes only if a was delivered while the script ran (else it gives up
        // after 30 s and says so).
        let dir = try TempDir()
        let gate = dir.path + "/gate"
        let executor = try Fixture.executor()
        let collector = Collector()
        let context = CallContext(output: { stream, bytes in
            collector.append(stream, bytes)
            if stream == .stdout, bytes.contains(UInt8(ascii: "a")) { _ = try? dir.write("gate", "") }
        })
        let script = "echo a; i=0; while [ ! -f \(gate) ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; "
            + "if [ -f \(gate) ]; then echo b; else echo gave-up; fi"
        let run = collector.run(executor.execute(Fixture.request(["script": .string(script)]), call: context))
        #expect(run.result.status == .succeeded)
        #expect(run.stdout == "a\nb\n", "a reached the host only when the script ended")
        #expect(run.chunks >= 2)
    }

    @Test(arguments: [(JSON, String)]([
        (JSON.object([:]), "payload needs script"),
        (JSON(["script": 1]), "payload.script must be a string"),
        (JSON(["command": "ls -l"]), "payload.command must be an array of strings"),
        (JSON(["command": ["ls", 1]]), "payload.command must be an array of strings"),
        (JSON(["command": []]), "payload.command must not be empty"),
        (JSON(["script": "true", "command": ["true"]]), "not both"),
        (JSON(["script": "true", "env": ["A": 1]]), "payload.env.A must be a string"),
        (JSON(["script": "true", "env": "A=1"]), "payload.env must be an object"),
        (JSON(["script": "true", "workdir": 5]), "payload.workdir"),
        (JSON.string("echo"), "payload must be an object"),
    ]))
    func invalidPayloads(payload: JSON, message: String) throws {
        let run = try Fixture.run(payload)
        #expect(run.result.status == .invalid)
        #expect(run.result.message.contains(message), "\(run.result.message)")
    }

    @Test func dryRunRunsNothing() throws {
        let dir = try TempDir()
        let run = try Fixture.run(["script": .string("touch \(dir.path)/ran")], dryRun: true)
        #expect(run.result.status == .succeeded)
        #expect(run.result.message.contains("would run"), "\(run.result.message)")
        #expect(run.result.message.contains("touch"))
        #expect(access(dir.path + "/ran", F_OK) != 0)
    }

    @Test func timeoutKillsTheWholeGroup() throws {
        // The script would run 300 s: ending failed with a timeout at all is the limit at work.
        let dir = try TempDir()
        let run = try Fixture.run(
            ["script": .string("sleep 300 & echo $! > \(dir.path)/pid; wait")], timeoutMs: 300)
        #expect(run.result.status == .failed)
        #expect(run.result.message.hasPrefix("timed out after 300 ms"), "\(run.result.message)")
        let pid = try #require(dir.readPid("pid"))
        #expect(isGone(pid), "background sleep \(pid) survived the timeout")
    }

    @Test func termIgnoringGroupIsKilledAfterTheGrace() throws {
        let dir = try TempDir()
        let start = ContinuousClock.now
        let run = try Fixture.run(
            ["script": .string("trap '' TERM; sleep 300 & echo $! > \(dir.path)/pid; wait")],
            config: ["killGraceMs": 300], timeoutMs: 200)
        let elapsed = ContinuousClock.now - start
        #expect(run.result.status == .failed)
        #expect(run.result.message.contains("SIGKILL"), "\(run.result.message)")
        #expect(elapsed >= .milliseconds(480), "the 300 ms grace after the 200 ms limit was not given: \(elapsed)")
        let pid = try #require(dir.readPid("pid"))
        #expect(isGone(pid))
    }

    @Test func cancelFromAnotherThreadKillsTheWholeGroup() throws {
        let dir = try TempDir()
        let pidFile = dir.path + "/pid"
        let start = ContinuousClock.now
        let run = try Fixture.run(["script": .string("sleep 300 & echo $! > \(pidFile); wait")]) { context in
            DispatchQueue.global().async {
                // Cancel once the script has written its background job's pid (the file exists, empty,
                // a moment before: the shell makes it for the redirection, then echo writes).
                while dir.readPid("pid") == nil && ContinuousClock.now - start < .seconds(30) { usleep(2_000) }
                context.cancel()
            }
        }
        // The script would run 300 s: only the cancel ends it.
        #expect(run.result.status == .cancelled, "\(run.result)")
        let pid = try #require(dir.readPid("pid"))
        #expect(isGone(pid), "background sleep \(pid) survived the cancel")
    }

    @Test func alreadyCancelledCallDoesNotStart() throws {
        let dir = try TempDir()
        let run = try Fixture.run(["script": .string("touch \(dir.path)/ran")]) { $0.cancel() }
        #expect(run.result.status == .cancelled)
        #expect(access(dir.path + "/ran", F_OK) != 0)
    }

    @Test func backgroundGrandchildHoldingStdoutDoesNotHang() throws {
        let dir = try TempDir()
        let start = ContinuousClock.now
        let run = try Fixture.run(["script": .string("sleep 300 & echo $! > \(dir.path)/pid; echo started")])
        // A hang guard, not a speed check: waiting for the grandchild would take 300 s.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(run.result.status == .succeeded)
        #expect(run.stdout == "started\n")
        let pid = try #require(dir.readPid("pid"))
        #expect(isGone(pid), "leftover grandchild \(pid) was not killed")
    }

    @Test func escapedWriterKeepingThePipeFullDoesNotHang() throws {
        // setsid leaves our process group, so the group kill cannot reach it, and `yes`
        // never lets the pipe go empty: the call must still return.
        let dir = try TempDir()
        let start = ContinuousClock.now
        let run = try Fixture.run(
            ["script": .string("setsid sh -c 'echo $$ > \(dir.path)/pid; exec yes' & sleep 0.1; echo done >&2")])
        // A hang guard, not a speed check: a reader that waits for EOF never returns.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(run.result.status == .succeeded)
        #expect(run.stderr == "done\n")
        if let pid = dir.readPid("pid") {
            kill(pid, SIGKILL)  // it dies of SIGPIPE once we close the pipe; this is a safety net
        }
    }

    @Test func noHostDescriptorLeaksIntoTheChild() throws {
        // An fd the host opened without O_CLOEXEC, at a number the child would never pick.
        let raw = open("/dev/null", O_RDONLY)
        try #require(raw >= 0)
        // F_DUPFD takes the lowest free number at or above 200 and closes nothing: dup2 onto a
        // fixed number would close whatever another test running in parallel has there.
        let leaked = fcntl(raw, F_DUPFD, 200)
        try #require(leaked >= 200)
        close(raw)
        defer { close(leaked) }

        // The shell globs its own fd folder; the glob itself may hold one directory fd.
        let run = try Fixture.run(
            ["script": "for f in /proc/$$/fd/*; do echo \"${f##*/}\"; done; readlink /proc/$$/fd/0 >&2"])
        #expect(run.result.status == .succeeded)
        let fds = Set(run.stdout.split(separator: "\n").map(String.init))
        #expect(!fds.contains("\(leaked)"), "fd \(leaked) leaked: \(fds.sorted())")
        #expect(fds.isSuperset(of: ["0", "1", "2"]))
        #expect(fds.subtracting(["0", "1", "2"]).count <= 1, "unexpected fds \(fds.sorted())")
        #expect(run.stderr == "/dev/null\n")
    }

    @Test func programThatCannotBeExecutedFailsWith126() throws {
        // An explicit path is exec'd as given: the error comes back from the child.
        let dir = try TempDir()
        try dir.write("not-executable", "#!/bin/sh\necho never\n")
        let run = try Fixture.run(["command": [.string(dir.path + "/not-executable")]])
        #expect(run.result.status == .failed)
        #expect(run.result.exitCode == 126, "\(run.result)")
        #expect(run.result.message.contains("Permission denied"), "\(run.result.message)")
        #expect(run.stdout.isEmpty)
    }

    @Test func childStartsWithDefaultSignalsAndAnEmptyMask() throws {
        // Hosts ignore SIGPIPE and block signals on their threads; ignored dispositions and
        // the mask would survive exec if the spawn did not reset them. (A test process started
        // by posix_spawn also has glibc's signals 32 and 33 ignored: they must not pass on.)
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        var block = sigset_t()
        var old = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }

        let run = try Fixture.run(["command": ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
    }

    @Test func childLeadsItsOwnProcessGroup() throws {
        // /proc/PID/stat field 5 is the pgrp; the shell's must equal its pid.
        let run = try Fixture.run(["script": "read -r stat < /proc/$$/stat; set -- $stat; echo \"$1 $5\""])
        let fields = run.stdout.split(separator: " ").map { $0.trimmingSuffix() }
        #expect(fields.count == 2 && fields[0] == fields[1], "\(run.stdout)")
        #expect(fields.first != "\(getpgrp())")
    }

    // How fast is bench/'s question; this one is that an instance serves call after call.
    @Test func manyRunsOnOneInstanceAllSucceed() throws {
        let executor = try Fixture.executor()
        for index in 0..<50 {
            let result = executor.execute(Fixture.request(["command": ["sh", "-c", .string("echo \(index)")]]), call: CallContext())
            try #require(result.status == .succeeded, "call \(index): \(result)")
        }
    }
}

// MARK: - Fixture

extension JSON {
    init(_ value: JSON) { self = value }
}

extension Substring {
    func trimmingSuffix() -> String { String(self.filter { $0 != "\n" }) }
}

enum Fixture {
    struct Missing: Error, CustomStringConvertible { var description: String }

    static func plugin() throws -> Plugin { try BuiltPlugin.load("shell") }

    static func executor(config: JSON = ["killGraceMs": 200]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "shell", config: config)
    }

    static func request(
        _ payload: JSON, dryRun: Bool = false, timeoutMs: Int? = nil, secrets: [String: String] = [:],
        inputs: JSONObject = JSONObject()
    ) -> ExecuteRequest {
        ExecuteRequest(
            runId: "r-test", phaseId: "p", executor: "shell", payload: payload, dryRun: dryRun,
            timeoutMs: timeoutMs, inputs: inputs, secrets: secrets)
    }

    static func run(
        _ payload: JSON, config: JSON = ["killGraceMs": 200], dryRun: Bool = false, timeoutMs: Int? = nil,
        secrets: [String: String] = [:], inputs: JSONObject = JSONObject(), during: (CallContext) -> Void = { _ in }
    ) throws -> Run {
        let executor = try executor(config: config)
        let collector = Collector(cap: 1 << 20)  // one test floods stdout on purpose
        let context = CallContext(output: { collector.append($0, $1) })
        during(context)
        let result = executor.execute(
            request(payload, dryRun: dryRun, timeoutMs: timeoutMs, secrets: secrets, inputs: inputs), call: context)
        return collector.run(result)
    }
}

