import Dispatch
import ExecutorRuntime
import Foundation
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
        // The code prints a, then waits for a gate file the host side creates when "a" reaches
        // it: b comes only if a was delivered while the phase ran (else it gives up after 30 s).
        let dir = try TempDir()
        let gate = dir.path + "/gate"
        let executor = try Fixture.executor(["pool": 1])
        let code = "import os, sys, time\nprint('a')\nsys.stderr.write('e\\n')\n"
            + "for _ in range(600):\n    if os.path.exists('\(gate)'): break\n    time.sleep(0.05)\n"
            + "print('b' if os.path.exists('\(gate)') else 'gave-up')"
        let run = Fixture.run(executor, ["code": .string(code)], onOutput: { stream, bytes in
            if stream == .stdout, bytes.contains(UInt8(ascii: "a")) { _ = try? dir.write("gate", "") }
        })
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == "a\nb\n", "a reached the host only when the phase ended")
        #expect(run.stderr == "e\n")
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
        // The code would run 300 s: ending with a timeout at all is the limit at work.
        #expect(run.result.status == .failed)
        #expect(run.result.message.hasPrefix("timed out after 1 s"), "\(run.result.message)")
        #expect(ContinuousClock.now - start >= .milliseconds(900), "not before the limit")
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
                // Cancel once the worker has written its pid (the file exists before its content).
                while readText(pidFile).flatMap({ Int32($0) }) == nil && ContinuousClock.now - start < .seconds(30) { usleep(2_000) }
                context.cancel()
            }
        }
        // The code would run 300 s: only the cancel ends it.
        #expect(run.result.status == .cancelled, "\(run.result)")
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
        // A barrier: each phase leaves a marker and waits until both markers exist, so both
        // succeed only if the pool of 2 runs them at the same time (after 30 s alone, it says so).
        let dir = try TempDir()
        let executor = try Fixture.executor(["pool": 2])
        let code = "import os, time\nopen(os.path.join('\(dir.path)', str(os.getpid())), 'w').close()\n"
            + "for _ in range(600):\n    if len(os.listdir('\(dir.path)')) >= 2: break\n    time.sleep(0.05)\n"
            + "result = {'together': len(os.listdir('\(dir.path)')) >= 2, 'pid': os.getpid()}"
        let results = Mutex<[ExecuteResult]>([])
        let done = DispatchGroup()
        for _ in 0..<2 {
            done.enter()
            Thread.detachNewThread {
                let run = Fixture.run(executor, ["code": .string(code)])
                results.withLock { $0.append(run.result) }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 120) == .success, "the phases did not return")
        let both = results.withLock { $0 }
        try #require(both.count == 2)
        #expect(both.allSatisfy { $0.status == .succeeded }, "\(both)")
        #expect(both.allSatisfy { $0.outputs["together"] == true }, "the phases did not overlap: \(both.map(\.outputs))")
        #expect(both[0].outputs["pid"] != both[1].outputs["pid"], "both phases ran on the same worker")
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

    // How cheap is bench/'s question; this one is that one pooled worker serves phase after
    // phase, each with its own inputs.
    @Test func onePooledWorkerServesManyPhases() throws {
        let executor = try Fixture.executor(["pool": 1])
        let warm = Fixture.run(executor, ["code": "import os; result = {'pid': os.getpid()}"])
        try #require(warm.result.status == .succeeded)
        for index in 0..<200 {
            let run = Fixture.run(executor, ["code": "import os; result = {'i': inputs['n'], 'pid': os.getpid()}"],
                                  inputs: ["n": .int(Int64(index))])
            try #require(run.result.status == .succeeded, "phase \(index): \(run.result)")
            #expect(run.result.outputs["i"] == .int(Int64(index)))
            #expect(run.result.outputs["pid"] == warm.result.outputs["pid"], "phase \(index) did not run on the pooled worker")
        }
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
