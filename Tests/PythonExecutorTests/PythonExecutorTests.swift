import Dispatch
import PlanterHost
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These tests drive the real libplanter-python.so through the host's loader and
// PluginExecutor (dlopen + the C ABI), with real python3 processes.

@Suite struct PythonExecutorTests {
    @Test func loadsWithMetadata() throws {
        let plugin = try Fixture.plugin()
        #expect(plugin.name == "python")
        #expect(plugin.abiVersion == 1)
        #expect(plugin.concurrentExecute)
    }

    @Test func badConfigIsRefusedWithItsField() throws {
        let plugin = try Fixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "py", config: ["interpreter": "planter-no-such-python"]) } throws: {
            "\($0)".contains("config.interpreter") && "\($0)".contains("not found")
        }
        #expect { _ = try plugin.makeExecutor(name: "py", config: ["pool": -1]) } throws: { "\($0)".contains("config.pool") }
        #expect { _ = try plugin.makeExecutor(name: "py", config: ["maxOutputsBytes": 0]) } throws: {
            "\($0)".contains("config.maxOutputsBytes")
        }
    }

    @Test(arguments: [0, 1])
    func codeGetsInputsAndGivesResultAsOutputs(pool: Int) throws {
        let executor = try Fixture.executor(["pool": .int(Int64(pool))])
        let run = Fixture.run(
            executor,
            ["code": "print('hello from python')\nresult = {'sum': inputs['fetch']['n'] + 1, 'keys': sorted(inputs)}"],
            inputs: ["fetch": ["n": 41], "other": [:]])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["sum": 42, "keys": ["fetch", "other"]])
        #expect(run.stdout == "hello from python\n")
        #expect(run.stderr == "")
    }

    @Test func nonObjectResultIsWrappedAndMissingResultIsEmpty() throws {
        let executor = try Fixture.executor(["pool": 1])
        let wrapped = Fixture.run(executor, ["code": "result = [1, 'two']"])
        #expect(wrapped.result.outputs == ["result": [1, "two"]], "\(wrapped.result)")
        let none = Fixture.run(executor, ["code": "x = 1"])
        #expect(none.result.status == .succeeded)
        #expect(none.result.outputs.isEmpty)
    }

    @Test func fileRunsWithItsPathAndInputs() throws {
        let dir = try TempDir()
        try dir.write("job.py", "import sys\nresult = {'file': __file__, 'argv0': sys.argv[0], 'x': inputs['a']['x']}\n")
        for pool in [0, 1] {
            let executor = try Fixture.executor(["pool": .int(Int64(pool))])
            let run = Fixture.run(executor, ["file": .string(dir.path + "/job.py")], inputs: ["a": ["x": "y"]])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs == ["file": .string(dir.path + "/job.py"), "argv0": .string(dir.path + "/job.py"),
                                           "x": "y"])
        }
        let executor = try Fixture.executor()
        let missing = Fixture.run(executor, ["file": .string(dir.path + "/nope.py")])
        #expect(missing.result.status == .failed)
        #expect(missing.result.message.contains("FileNotFoundError"), "\(missing.result.message)")
    }

    @Test func moduleFunctionWithArgsKwargsAndInputs() throws {
        let dir = try TempDir()
        try dir.write("planter_test_mod.py", """
            def add(a, b, scale=1, inputs=None):
                print('adding', a, b)
                return {'sum': (a + b) * scale, 'inputs': inputs}

            def plain(x):
                return x * 2
            """)
        let executor = try Fixture.executor(["pool": 1])
        let run = Fixture.run(
            executor,
            ["module": "planter_test_mod", "function": "add", "args": [2, 3], "kwargs": ["scale": 10],
             "workdir": .string(dir.path)],
            inputs: ["up": ["v": 1]])
        #expect(run.result.status == .succeeded, "\(run.result) \(run.stderr)")
        #expect(run.result.outputs == ["sum": 50, "inputs": ["up": ["v": 1]]])
        #expect(run.stdout == "adding 2 3\n")

        let plain = Fixture.run(executor, ["module": "planter_test_mod", "function": "plain", "args": [21],
                                           "workdir": .string(dir.path)])
        #expect(plain.result.outputs == ["result": 42], "\(plain.result) \(plain.stderr)")

        let stdlib = Fixture.run(executor, ["module": "os.path", "function": "join", "args": ["a", "b"]])
        #expect(stdlib.result.outputs == ["result": "a/b"], "\(stdlib.result)")
    }

    @Test(arguments: [0, 1])
    func exceptionFailsWithTracebackInOutput(pool: Int) throws {
        let executor = try Fixture.executor(["pool": .int(Int64(pool))])
        let run = Fixture.run(executor, ["code": "def inner():\n    raise ValueError('boom')\nprint('before')\ninner()\n"])
        #expect(run.result.status == .failed)
        #expect(run.result.message == "ValueError: boom", "\(run.result.message)")
        #expect(run.stdout == "before\n")
        #expect(run.stderr.hasPrefix("Traceback (most recent call last):"), "\(run.stderr)")
        #expect(run.stderr.contains("File \"<phase p>\", line 2, in inner"), "\(run.stderr)")
        #expect(!run.stderr.contains("_run"), "worker frames leaked into the traceback: \(run.stderr)")
        #expect(run.stderr.hasSuffix("ValueError: boom\n"))
    }

    @Test func systemExitCodes() throws {
        let executor = try Fixture.executor(["pool": 1])
        let three = Fixture.run(executor, ["code": "import sys; sys.exit(3)"])
        #expect(three.result.status == .failed)
        #expect(three.result.exitCode == 3)
        let zero = Fixture.run(executor, ["code": "import sys\nresult = {'a': 1}\nsys.exit(0)"])
        #expect(zero.result.status == .succeeded, "\(zero.result)")
        #expect(zero.result.outputs == ["a": 1])
    }

    @Test func pooledPhasesGetFreshGlobalsOnTheSameWorker() throws {
        let executor = try Fixture.executor(["pool": 1])
        let first = Fixture.run(executor, ["code": "import os\nleftover = 1\nresult = {'pid': os.getpid()}"])
        let second = Fixture.run(executor, [
            "code": "import os\nresult = {'pid': os.getpid(), 'leaked': 'leftover' in globals(), 'had': 'result' in dir()}",
        ])
        #expect(first.result.status == .succeeded && second.result.status == .succeeded)
        #expect(second.result.outputs["leaked"] == false)
        #expect(first.result.outputs["pid"] == second.result.outputs["pid"], "the pool did not reuse its worker")
    }

    @Test func freshModeUsesANewInterpreterPerAttempt() throws {
        let executor = try Fixture.executor()
        let first = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        let second = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        let pid = try #require(first.result.outputs["pid"]?.intValue)
        #expect(first.result.outputs["pid"] != second.result.outputs["pid"])
        #expect(isGone(Int32(pid)), "the fresh interpreter \(pid) was left running")
    }

    @Test func envSecretsAndWorkdirApplyToOnePhaseOnly() throws {
        let dir = try TempDir()
        let executor = try Fixture.executor(["pool": 1, "env": ["FROM_CONFIG": "c"]])
        let run = Fixture.run(
            executor,
            ["code": .string("import os\nresult = {k: os.environ.get(k) for k in ['FROM_CONFIG', 'FROM_PAYLOAD', 'TOKEN']}\n"
                + "result['cwd'] = os.getcwd()"),
             "env": ["FROM_PAYLOAD": "p"], "workdir": .string(dir.path)],
            secrets: ["TOKEN": "s3cret"])
        #expect(run.result.outputs == ["FROM_CONFIG": "c", "FROM_PAYLOAD": "p", "TOKEN": "s3cret", "cwd": .string(dir.path)],
                "\(run.result)")
        let after = Fixture.run(executor, [
            "code": "import os\nresult = {'p': os.environ.get('FROM_PAYLOAD'), 't': os.environ.get('TOKEN'), 'cwd': os.getcwd()}",
        ])
        #expect(after.result.outputs["p"] == .null && after.result.outputs["t"] == .null, "\(after.result)")
        #expect(after.result.outputs["cwd"] != .string(dir.path))
    }

    @Test func outputIsStreamedWhileThePhaseRuns() throws {
        let executor = try Fixture.executor(["pool": 1])
        let run = Fixture.run(executor, ["code": "import sys, time\nprint('a')\nsys.stderr.write('e\\n')\ntime.sleep(0.6)\nprint('b')"])
        let returned = ContinuousClock.now
        #expect(run.result.status == .succeeded)
        #expect(run.stdout == "a\nb\n")
        #expect(run.stderr == "e\n")
        let first = try #require(run.firstChunkAt)
        #expect(returned - first >= .milliseconds(450), "first chunk only \(returned - first) before the end")
    }

    @Test func subprocessOutputReachesTheHostButNotTheChannel() throws {
        let executor = try Fixture.executor(["pool": 1])
        let run = Fixture.run(executor, [
            "code": .string(#"import subprocess\#nsubprocess.run(['sh', '-c', 'echo from-child; cat >&2'], input=b'{"id": 0}\n')\#nresult = {'ok': True}"#),
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["ok": true])
        #expect(run.stdout == "from-child\n")
        #expect(run.stderr == "{\"id\": 0}\n")
    }

    @Test func crashingWorkerFailsThePhaseAndIsReplaced() throws {
        let executor = try Fixture.executor(["pool": 1])
        let before = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        let oldPid = try #require(before.result.outputs["pid"]?.intValue)

        let exited = Fixture.run(executor, ["code": "import os\nprint('going', flush=True)\nos._exit(7)"])
        #expect(exited.result.status == .failed)
        #expect(exited.result.exitCode == 7)
        #expect(exited.result.message.contains("exited with code 7"), "\(exited.result.message)")
        #expect(exited.result.message.contains("replaced"))
        #expect(exited.stdout == "going\n")

        let killed = Fixture.run(executor, ["code": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
        #expect(killed.result.status == .failed)
        #expect(killed.result.exitCode == 128 + 9)
        #expect(killed.result.message.contains("SIGKILL"), "\(killed.result.message)")

        let after = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        #expect(after.result.status == .succeeded, "\(after.result)")
        #expect(after.result.outputs["pid"] != .int(Int64(oldPid)))
        #expect(isGone(Int32(oldPid)))
    }

    @Test func timeoutKillsTheWorkerAndItsChildrenAndReplacesIt() throws {
        let dir = try TempDir()
        let executor = try Fixture.executor(["pool": 1])
        // Warm first, so the time limit covers the phase and not the interpreter's start-up.
        #expect(Fixture.run(executor, ["code": "import subprocess"]).result.status == .succeeded)
        let start = ContinuousClock.now
        let run = Fixture.run(
            executor,
            ["code": .string("import os, subprocess, time\nchild = subprocess.Popen(['sleep', '300'])\n"
                + "with open('\(dir.path)/pids', 'w') as f: f.write('%d %d' % (os.getpid(), child.pid))\n"
                + "time.sleep(300)")],
            timeoutMs: 1000)
        #expect(run.result.status == .failed)
        #expect(run.result.message.hasPrefix("timed out after 1 s"), "\(run.result.message)")
        #expect(ContinuousClock.now - start < .seconds(5))
        let pids = try #require(readText(dir.path + "/pids")).split(separator: " ").compactMap { Int32($0) }
        try #require(pids.count == 2)
        #expect(isGone(pids[0]), "worker \(pids[0]) survived the timeout")
        #expect(isGone(pids[1]), "its child \(pids[1]) survived the timeout")

        let after = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        #expect(after.result.status == .succeeded, "\(after.result)")
        #expect(after.result.outputs["pid"] != .int(Int64(pids[0])))
    }

    @Test(arguments: [0, 1])
    func cancelKillsTheWorker(pool: Int) throws {
        let dir = try TempDir()
        let pidFile = dir.path + "/pid"
        let executor = try Fixture.executor(["pool": .int(Int64(pool))])
        let start = ContinuousClock.now
        let run = Fixture.run(
            executor,
            ["code": .string("import os, time\nopen('\(pidFile)', 'w').write(str(os.getpid()))\ntime.sleep(300)")]
        ) { context in
            DispatchQueue.global().async {
                while access(pidFile, F_OK) != 0 && ContinuousClock.now - start < .seconds(5) { usleep(2_000) }
                usleep(20_000)
                context.cancel()
            }
        }
        #expect(run.result.status == .cancelled, "\(run.result)")
        #expect(ContinuousClock.now - start < .seconds(3))
        let pid = try #require(readText(pidFile).flatMap { Int32($0) })
        #expect(isGone(pid), "worker \(pid) survived the cancel")
        let after = Fixture.run(executor, ["code": "result = {'ok': 1}"])
        #expect(after.result.status == .succeeded, "\(after.result)")
    }

    @Test func alreadyCancelledCallDoesNotRun() throws {
        let dir = try TempDir()
        let executor = try Fixture.executor(["pool": 1])
        let run = Fixture.run(executor, ["code": .string("open('\(dir.path)/ran', 'w')")]) { $0.cancel() }
        #expect(run.result.status == .cancelled)
        #expect(!dir.exists("ran"))
    }

    @Test func outputsAreBounded() throws {
        let executor = try Fixture.executor(["pool": 1, "maxOutputsBytes": 1000])
        let big = Fixture.run(executor, ["code": "result = {'blob': 'x' * 5000}"])
        #expect(big.result.status == .failed)
        #expect(big.result.message.contains("more than maxOutputsBytes (1000)"), "\(big.result.message)")
        let small = Fixture.run(executor, ["code": "result = {'blob': 'x' * 500}"])
        #expect(small.result.status == .succeeded)
        let odd = Fixture.run(executor, ["code": "result = {'s': {1, 2}}"])
        #expect(odd.result.status == .failed)
        #expect(odd.result.message.contains("not JSON-serializable"), "\(odd.result.message)")
    }

    @Test func poolRunsPhasesConcurrently() throws {
        // Each phase reports when it ran; on a pool of 2 the two intervals must overlap
        // (robust on a loaded machine, unlike a wall-clock bound).
        let executor = try Fixture.executor(["pool": 2])
        let spans = Mutex<[(Double, Double, Int64)]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let run = Fixture.run(executor, ["code": .string("import os, time\nt0 = time.time()\ntime.sleep(0.4)\n"
                + "result = {'t0': t0, 't1': time.time(), 'pid': os.getpid()}")])
            #expect(run.result.status == .succeeded)
            if let t0 = run.result.outputs["t0"]?.doubleValue, let t1 = run.result.outputs["t1"]?.doubleValue,
                let pid = run.result.outputs["pid"]?.intValue
            {
                spans.withLock { $0.append((t0, t1, Int64(pid))) }
            }
        }
        let both = spans.withLock { $0 }
        try #require(both.count == 2)
        #expect(both[0].2 != both[1].2, "both phases ran on the same worker")
        #expect(both[0].0 < both[1].1 && both[1].0 < both[0].1, "the phases did not overlap: \(both)")
    }

    @Test func venvInterpreterIsUsed() throws {
        let dir = try TempDir()
        let made = Fixture.run(try Fixture.executor(), [
            "code": .string("import venv\nvenv.EnvBuilder(with_pip=False, symlinks=True).create('\(dir.path)/venv')"),
        ])
        try #require(made.result.status == .succeeded, "\(made.result) \(made.stderr)")
        let executor = try Fixture.executor(["interpreter": .string(dir.path + "/venv/bin/python"), "pool": 1])
        let run = Fixture.run(executor, ["code": "import sys; result = {'prefix': sys.prefix}"])
        #expect(run.result.outputs == ["prefix": .string(dir.path + "/venv")], "\(run.result)")
    }

    @Test(arguments: [(JSON, String)]([
        (JSON.object([:]), "payload needs code"),
        (JSON(["code": 1]), "payload.code must be a string"),
        (JSON(["code": "x", "file": "y.py"]), "exactly one of code, file and module"),
        (JSON(["module": "os"]), "payload.module needs payload.function"),
        (JSON(["module": "os", "function": "getcwd", "args": "x"]), "payload.args must be an array"),
        (JSON(["module": "os", "function": "getcwd", "kwargs": [1]]), "payload.kwargs must be an object"),
        (JSON(["code": "x", "function": "f"]), "payload.function goes with payload.module"),
        (JSON(["code": "x", "env": ["A": 1]]), "payload.env.A must be a string"),
        (JSON(["code": "x", "workdir": 3]), "payload.workdir"),
        (JSON.string("print(1)"), "payload must be an object"),
    ]))
    func invalidPayloads(payload: JSON, message: String) throws {
        let run = Fixture.run(try Fixture.executor(), payload)
        #expect(run.result.status == .invalid)
        #expect(run.result.message.contains(message), "\(run.result.message)")
    }

    @Test func dryRunRunsNothing() throws {
        let run = Fixture.run(try Fixture.executor(), ["code": "raise SystemExit(1)"], dryRun: true)
        #expect(run.result.status == .succeeded)
        #expect(run.result.message.contains("would run python code"), "\(run.result.message)")
    }

    @Test func pooledPhasesAreCheap() throws {
        let executor = try Fixture.executor(["pool": 1])
        _ = Fixture.run(executor, ["code": "result = {'warm': 1}"])
        let count = 200
        let start = ContinuousClock.now
        for index in 0..<count {
            let run = Fixture.run(executor, ["code": "result = {'i': inputs['n']}"], inputs: ["n": .int(Int64(index))])
            try #require(run.result.status == .succeeded)
        }
        let perPhase = (ContinuousClock.now - start) / count
        // ~0.1 ms on these machines in a release build; generous for a debug build on a busy box.
        #expect(perPhase < .milliseconds(2), "\(perPhase) per pooled phase")
    }
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
