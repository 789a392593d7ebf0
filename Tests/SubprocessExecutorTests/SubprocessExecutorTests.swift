import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A small Python executor that misbehaves on request: dies by SIGKILL or exit(3) mid-request,
/// and reports its pid, process group and open descriptors otherwise.
let crashingExecutorScript = #"""
import json, os, signal, sys
def send(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
send({"type": "handshake", "protocol": 1, "name": "crashy", "version": "0.1", "concurrent": False})
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "configure":
        send({"type": "configured"})
    elif m["type"] == "execute":
        crash = m["request"]["payload"].get("crash")
        send({"type": "output", "id": m["id"], "stream": "stdout", "data": "working\n"})
        if crash == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if crash == "exit":
            os._exit(3)
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        send({"type": "result", "id": m["id"], "result": {"status": "succeeded", "message": "ok",
              "outputs": {"pid": os.getpid(), "pgid": os.getpgid(0), "fds": fds}}})
"""#

/// A C plugin that crashes on request, built with `cc` by the tests.
let crashingPluginSource = #"""
#include <planter_executor.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int the_instance;

static void *create(const char *config, const planter_host *host, char **error) {
    (void)config; (void)host; (void)error;
    return &the_instance;
}

static char *execute(void *instance, const char *request, size_t length, const planter_call *call) {
    (void)instance; (void)length; (void)call;
    if (strstr(request, "\"crash\":\"segv\"")) raise(SIGSEGV);
    if (strstr(request, "\"crash\":\"abort\"")) abort();
    if (strstr(request, "\"crash\":\"exit\"")) exit(7);
    char *result = malloc(160);
    snprintf(result, 160, "{\"status\":\"succeeded\",\"message\":\"survived\",\"outputs\":{\"pid\":%d}}", (int)getpid());
    return result;
}

static void destroy(void *instance) { (void)instance; }
static void free_string(char *s) { free(s); }

static const planter_executor_plugin descriptor = {
    PLANTER_EXECUTOR_ABI_VERSION, sizeof(planter_executor_plugin), "crashy", "1.0.0", "crashes when asked",
    PLANTER_CAP_CONCURRENT_EXECUTE, create, execute, destroy, free_string,
};

const planter_executor_plugin *planter_executor_entry(uint32_t host_abi_version) {
    (void)host_abi_version;
    return &descriptor;
}
"""#

@Suite struct SubprocessExecutorTests {
    func echoExecutor(config: JSON = .object(JSONObject()), log: LogLines? = nil) -> SubprocessExecutor {
        SubprocessExecutor(name: "py", options: .init(command: [Paths.python, Paths.exampleExecutor], config: config),
                           log: log?.sink)
    }

    // MARK: The Python example, for real

    @Test func pythonExampleRunsARequest() throws {
        let log = LogLines()
        let executor = echoExecutor(config: ["greeting": "hi"], log: log)
        defer { executor.shutdown() }
        let capture = Capture()
        let result = executor.execute(
            request(["message": "hello from python"], inputs: ["fetch": ["rev": "abc123"]]), call: capture.context())
        #expect(result.status == .succeeded, "\(result)")
        #expect(result.message == "echoed")
        #expect(result.outputs["greeting"] == "hi")
        #expect(result.outputs["inputs"]?["fetch"]?["rev"] == "abc123")
        #expect(result.outputs["echo"]?["message"] == "hello from python")
        #expect(capture.stdout == "hello from python\n")
        #expect(capture.logs.contains("info: attempt 1"), "\(capture.logs)")
        // The executor's stderr becomes host log lines.
        #expect(log.waitFor("echo executor started"), "\(log.all)")
        let handshake = try executor.start().get()
        #expect(handshake.name == "echo" && handshake.version == "1.0.0" && handshake.concurrent)
    }

    @Test func pythonExampleServesRequestsConcurrently() throws {
        let executor = echoExecutor()
        defer { executor.shutdown() }
        _ = try executor.start().get()
        // Four requests that each print their number, then sleep 300 s unless cancelled: all
        // four numbers arrive only if the executor has all four in flight at once.
        let results = Mutex<[ExecuteResult]>([])
        let done = DispatchGroup()
        let captures = (0..<4).map { _ in Capture() }
        let calls = captures.map { $0.context() }
        for index in 0..<4 {
            // Real threads: concurrentPerform would run only as many at once as there are cores.
            done.enter()
            let call = calls[index]
            Thread {
                let result = executor.execute(request(["sleep": 300, "message": .string("n\(index)")]), call: call)
                results.withLock { $0.append(result) }
                done.leave()
            }.start()
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while captures.contains(where: { $0.stdout.isEmpty }) && ContinuousClock.now < deadline { usleep(2_000) }
        #expect(captures.map(\.stdout) == ["n0\n", "n1\n", "n2\n", "n3\n"], "not all four were running at once")
        for call in calls { call.cancel(reason: "test done") }
        #expect(done.wait(timeout: .now() + 60) == .success)
        let all = results.withLock { $0 }
        #expect(all.count == 4 && all.allSatisfy { $0.status == .cancelled }, "\(all)")
    }

    @Test func configRefusedByTheExecutorFailsTheCall() {
        let executor = echoExecutor(config: ["greeting": 5])
        defer { executor.shutdown() }
        let result = executor.execute(request(["message": "x"]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("executor py refused its config: config.greeting must be a string"), "\(result.message)")
    }

    @Test func cancellationReachesTheExecutor() {
        let executor = echoExecutor()
        defer { executor.shutdown() }
        // Cancel once the executor has the request (its message came back), not before it is sent.
        let capture = Capture()
        let call = capture.context()
        when({ !capture.stdout.isEmpty }) { call.cancel(reason: "user cancel") }
        let result = executor.execute(request(["sleep": 300, "message": "started"]), call: call)
        #expect(capture.stdout == "started\n")
        #expect(result.status == .cancelled)
        // The executor's own answer, not the host giving up after the cancel grace.
        #expect(result.message == "cancelled by the host", "\(result.message)")
    }

    @Test func attemptTimeoutThroughTheRunnerCancelsTheRequest() throws {
        var deployment = Deployment()
        var definition = ExecutorDefinition(name: "py", plugin: "")
        definition.command = [Paths.python, Paths.exampleExecutor]
        deployment.executors = [definition]
        let registry = ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), environment: [:])
        let manifest: JSON = [
            ["kind": "Phase", "id": "slow",
             "spec": ["selector": ["matchLabels": ["executor": "py"]], "x-run": ["sleep": 300], "x-timeout": "300ms"]],
        ]
        let start = ContinuousClock.now
        let result = try runPlan(manifest, registry: registry)
        #expect(result.phase("slow").status == .timedOut, "\(result.phase("slow"))")
        // A hang guard: a request the timeout did not cancel would keep the run for 300 s.
        #expect(elapsed(since: start) < .seconds(60))
    }

    // MARK: Crashes, restarts, start-up failures

    @Test func crashFailsTheCallInFlightAndTheNextCallRestarts() throws {
        let scratch = try Scratch()
        let script = try scratch.write("crashy.py", crashingExecutorScript)
        let executor = SubprocessExecutor(name: "crashy", options: .init(command: [Paths.python, script]))
        defer { executor.shutdown() }

        let first = executor.execute(request(["crash": "none"]), call: CallContext())
        #expect(first.status == .succeeded, "\(first)")
        let firstPid = try #require(first.outputs["pid"]?.intValue)

        let capture = Capture()
        let killed = executor.execute(request(["crash": "kill"]), call: capture.context())
        #expect(killed.status == .failed)
        #expect(killed.message == "executor crashy exited on signal 9 (SIGKILL)", "\(killed.message)")
        #expect(capture.stdout == "working\n")  // what it streamed before dying still arrived

        let restarted = executor.execute(request(["crash": "none"]), call: CallContext())
        #expect(restarted.status == .succeeded, "\(restarted)")
        #expect(restarted.outputs["pid"]?.intValue != firstPid)

        let exited = executor.execute(request(["crash": "exit"]), call: CallContext())
        #expect(exited.message == "executor crashy exited with status 3", "\(exited.message)")
        #expect(executor.execute(request(["crash": "none"]), call: CallContext()).status == .succeeded)
    }

    @Test func executorRunsInItsOwnProcessGroupWithNoHostDescriptors() throws {
        // An fd the host opened without O_CLOEXEC must not reach the executor.
        let raw = open("/dev/null", O_RDONLY)
        try #require(raw >= 0)
        // F_DUPFD closes nothing; dup2 onto a fixed number would close another parallel test's fd.
        let leaked = fcntl(raw, F_DUPFD, 200)
        try #require(leaked >= 200)
        close(raw)
        defer { close(leaked) }
        let scratch = try Scratch()
        let script = try scratch.write("crashy.py", crashingExecutorScript)
        let executor = SubprocessExecutor(name: "crashy", options: .init(command: [Paths.python, script]))
        defer { executor.shutdown() }
        let result = executor.execute(request(["crash": "none"]), call: CallContext())
        let pid = try #require(result.outputs["pid"]?.intValue)
        #expect(result.outputs["pgid"]?.intValue == pid)
        let fds = result.outputs["fds"]?.arrayValue?.compactMap(\.intValue) ?? []
        #expect(!fds.contains(Int(leaked)), "\(fds)")
        #expect(fds.filter { $0 > 2 }.count <= 1, "only the listing's own fd may be open: \(fds)")
        #expect(executor.processID == Int32(pid))
    }

    @Test func startTimeoutNamesTheCommandAndStopsTheProcess() throws {
        let scratch = try Scratch()
        var options = SubprocessExecutor.Options(
            command: ["/bin/sh", "-c", "echo $$ > \(scratch.path)/pid; exec sleep 30"],
            startTimeout: PlanDuration(milliseconds: 300))
        options.stopGrace = PlanDuration(milliseconds: 200)
        let executor = SubprocessExecutor(name: "mute", options: options)
        defer { executor.shutdown() }
        let start = ContinuousClock.now
        let result = executor.execute(request([:]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("executor mute did not complete its handshake within 300 ms"), "\(result.message)")
        #expect(result.message.contains("/bin/sh -c"), "the message names the command: \(result.message)")
        #expect(elapsed(since: start) >= .milliseconds(250), "not before the start timeout")
        let pid = try #require(scratch.waitForPid("pid"))
        #expect(isGone(pid), "the silent executor \(pid) was not stopped")
    }

    @Test func missingProgramIsAClearStartError() {
        let executor = SubprocessExecutor(name: "ghost", options: .init(command: ["planter-no-such-executor-xyz"]))
        let result = executor.execute(request([:]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("cannot start executor ghost: planter-no-such-executor-xyz: No such file"), "\(result.message)")
    }

    @Test func exitBeforeTheHandshakeShowsStderr() {
        let executor = SubprocessExecutor(
            name: "broken", options: .init(command: ["/bin/sh", "-c", "echo 'ImportError: no module named x' >&2; exit 1"]),
            log: LogLines().sink)
        let result = executor.execute(request([:]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("executor broken exited with status 1 before it was ready"), "\(result.message)")
        #expect(result.message.contains("ImportError: no module named x"), "\(result.message)")
    }

    @Test func protocolVersionMismatchIsRefused() {
        let handshake = #"{"type":"handshake","protocol":99,"name":"future","version":"9.0","concurrent":true}"#
        var options = SubprocessExecutor.Options(command: ["/bin/sh", "-c", "echo '\(handshake)'; exec sleep 30"])
        options.stopGrace = PlanDuration(milliseconds: 100)
        let executor = SubprocessExecutor(name: "future", options: options)
        defer { executor.shutdown() }
        let start = ContinuousClock.now
        let result = executor.execute(request([:]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("executor future speaks subprocess protocol version 99; this host speaks version 1"),
                "\(result.message)")
        // A hang guard: the mismatched executor would otherwise be waited on for its 30 s.
        #expect(elapsed(since: start) < .seconds(25))
    }

    @Test func teardownClosesStdinThenTermsThenKills() throws {
        // Ignores TERM (the whole group inherits that) and stdin EOF: only KILL ends it.
        let scratch = try Scratch()
        let script = try scratch.write("stubborn.sh", #"""
            trap '' TERM
            echo '{"type":"handshake","protocol":1,"name":"stubborn","version":"1","concurrent":false}'
            read -r line
            echo '{"type":"configured"}'
            echo $$ > "$1/pid"
            while :; do sleep 0.05; done
            """#)
        var options = SubprocessExecutor.Options(command: ["/bin/sh", script, scratch.path])
        options.stopGrace = PlanDuration(milliseconds: 200)
        let executor = SubprocessExecutor(name: "stubborn", options: options)
        _ = try executor.start().get()
        let pid = try #require(scratch.waitForPid("pid"))
        let start = ContinuousClock.now
        executor.shutdown()
        let took = elapsed(since: start)
        #expect(isGone(pid))
        // close stdin, 200 ms, TERM (ignored), 200 ms, KILL.
        #expect(took >= .milliseconds(380), "the two 200 ms graces were not given: \(took)")
        #expect(executor.execute(request([:]), call: CallContext()).message.contains("shut down"))
    }

    @Test func politeExecutorStopsOnStdinEOF() throws {
        // A grace of 10 minutes before TERM: an executor gone well within it went on stdin EOF.
        var options = SubprocessExecutor.Options(command: [Paths.python, Paths.exampleExecutor])
        options.stopGrace = PlanDuration(milliseconds: 600_000)
        let executor = SubprocessExecutor(name: "py", options: options)
        _ = try executor.start().get()
        let pid = try #require(executor.processID)
        let start = ContinuousClock.now
        executor.shutdown()
        #expect(isGone(pid))
        #expect(elapsed(since: start) < .seconds(120), "it did not exit on EOF: only TERM (after 10 minutes) would end it")
    }

    @Test func releasingTheExecutorStopsItsProcess() throws {
        var executor: SubprocessExecutor? = echoExecutor()
        _ = try executor?.start().get()
        let pid = try #require(executor?.processID)
        executor = nil
        #expect(isGone(pid), "executor process \(pid) outlived its SubprocessExecutor")
    }

    // MARK: Deployment config

    @Test func deploymentCommandEntryIsServed() throws {
        let config: JSON = [
            "executors": [
                ["name": "py", "command": [.string(Paths.python), .string(Paths.exampleExecutor)],
                 "env": ["PYTHONDONTWRITEBYTECODE": "1"], "startTimeout": "5s", "config": ["greeting": "servus"]],
            ],
        ]
        let (deployment, problems) = Deployment.decode(config, source: "test")
        #expect(!problems.hasErrors, "\(problems.all)")
        #expect(deployment.executors.first?.startTimeout == PlanDuration(milliseconds: 5000))
        let registry = ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), environment: [:])
        let binding = try registry.resolve(labels: ["executor": "py"]).get()
        #expect(binding.plugin == "subprocess")
        let result = binding.executor.execute(request(["message": "m"]), call: CallContext())
        #expect(result.outputs["greeting"] == "servus", "\(result)")
        (binding.executor as? SubprocessExecutor)?.shutdown()
    }

    @Test(arguments: [
        (JSON(["name": "a", "command": []]), "/executors/0/command", "non-empty list"),
        (JSON(["name": "a", "command": "python3 x.py"]), "/executors/0/command", "non-empty list"),
        (JSON(["name": "a", "command": ["python3", 1]]), "/executors/0/command/1", "must be strings"),
        (JSON(["name": "a", "command": [""]]), "/executors/0/command/0", "must not be empty"),
        (JSON(["name": "a", "plugin": "shell", "command": ["x"]]), "/executors/0/command", "not both"),
        (JSON(["name": "a"]), "/executors/0/plugin", "or command"),
        (JSON(["name": "a", "command": ["x"], "env": ["A": 1]]), "/executors/0/env/A", "must be strings"),
        (JSON(["name": "a", "command": ["x"], "startTimeout": "soon"]), "/executors/0/startTimeout", "duration"),
        (JSON(["name": "a", "plugin": "shell", "isolation": "vm"]), "/executors/0/isolation", "inProcess or process"),
        (JSON(["name": "a", "plugin": "shell", "env": ["A": "1"]]), "/executors/0/env", "run as a process"),
    ])
    func badSubprocessConfigIsReportedWithPointers(entry: JSON, pointer: String, message: String) {
        let (_, problems) = Deployment.decode(["executors": [entry]], source: "test")
        let errors = problems.all.filter { $0.severity == .error }
        #expect(errors.contains { $0.path == pointer && $0.message.contains(message) }, "\(errors)")
    }

    @Test func isolationIsDecoded() {
        let (deployment, problems) = Deployment.decode(
            ["executors": [["name": "a", "plugin": "shell", "isolation": "process", "startTimeout": 3]]], source: "test")
        #expect(!problems.hasErrors, "\(problems.all)")
        #expect(deployment.executors.first?.isolation == .process)
        #expect(deployment.executors.first?.runsInSubprocess == true)
    }

    // MARK: isolation: process

    static func isolatedRegistry(plugin path: String, name: String = "iso") throws -> ExecutorRegistry {
        var catalog = PluginCatalog()
        catalog.add(try PluginLoader.load(path: path))
        var definition = ExecutorDefinition(name: name, plugin: catalog.plugins[0].name, config: ["killGraceMs": 200])
        definition.isolation = .process
        var deployment = Deployment()
        deployment.executors = [definition]
        let registry = ExecutorRegistry(
            deployment: deployment, catalog: catalog,
            environment: ["PLANTER_EXECUTOR_HOST": try Paths.product("planter-executor-host")])
        #expect(registry.unavailable.isEmpty, "\(registry.unavailable)")
        return registry
    }

    @Test func isolatedShellPluginRunsOutOfProcess() throws {
        let registry = try Self.isolatedRegistry(plugin: try Paths.product("libplanter-shell.so"))
        let binding = try registry.resolve(labels: ["executor": "iso"]).get()
        #expect(binding.plugin == "shell")
        let capture = Capture()
        let result = binding.executor.execute(
            request(["script": "echo \"parent=$PPID\"; printf '{\"n\": 1}' > \"$PLANTER_OUTPUTS\""]), call: capture.context())
        #expect(result.status == .succeeded, "\(result)")
        #expect(result.outputs["n"] == 1)
        // The script's parent is planter-executor-host, not this process.
        let parent = capture.stdout.split(separator: "=").last.flatMap { Int32($0.filter(\.isNumber)) }
        #expect(parent != nil && parent != getpid(), "\(capture.stdout)")
        #expect(parent == (binding.executor as? SubprocessExecutor)?.processID)

        // Cancellation crosses the process boundary and the plugin kills its process group.
        // Cancel once the script runs (its first line came back); it would sleep 300 s.
        let running = Capture()
        let call = running.context()
        when({ !running.stdout.isEmpty }) { call.cancel(reason: "user cancel") }
        let cancelled = binding.executor.execute(request(["script": "echo running; sleep 300"]), call: call)
        #expect(cancelled.status == .cancelled, "\(cancelled)")
        (binding.executor as? SubprocessExecutor)?.shutdown()
    }

    @Test func whatAPhaseStartedDiesWithACrashedExecutorHost() throws {
        // The shell plugin runs each phase in a process group of its own; when the executor host
        // dies (kill -9 here), the host kills every group of the host's session before reaping it.
        let scratch = try Scratch()
        let registry = try Self.isolatedRegistry(plugin: try Paths.product("libplanter-shell.so"))
        let executor = try registry.resolve(labels: ["executor": "iso"]).get().executor
        defer { (executor as? SubprocessExecutor)?.shutdown() }
        let dir = scratch.path
        when({ true }) {
            for _ in 0..<3000 {
                if let text = try? String(contentsOfFile: dir + "/sleep.pid", encoding: .utf8), !text.isEmpty,
                    let host = (try? String(contentsOfFile: dir + "/host.pid", encoding: .utf8)).flatMap({ Int32($0.filter(\.isNumber)) }) {
                    kill(host, SIGKILL)
                    return
                }
                usleep(10_000)
            }
        }
        let start = ContinuousClock.now
        let result = executor.execute(
            request(["script": .string("echo $PPID > \(dir)/host.pid; sleep 300 & echo $! > \(dir)/sleep.tmp; mv \(dir)/sleep.tmp \(dir)/sleep.pid; wait")]),
            call: CallContext())
        #expect(result.status == .failed, "\(result)")
        #expect(result.message.contains("exited on signal 9"), "\(result.message)")
        // A hang guard: a crash the host did not notice would leave the call waiting for 300 s.
        #expect(elapsed(since: start) < .seconds(60))
        let sleeper = try #require(scratch.read("sleep.pid").flatMap { Int32($0.filter(\.isNumber)) })
        #expect(isGone(sleeper), "sleep \(sleeper) outlived the executor host")
        kill(sleeper, SIGKILL)
    }

    static func buildCrashingPlugin(in scratch: Scratch) throws -> String {
        let source = try scratch.write("crashy.c", crashingPluginSource)
        let library = scratch.path + "/libplanter-crashy.so"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-O0", "-I", Paths.abiInclude, "-o", library, source]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "cc failed")
        return library
    }

    @Test func crashingIsolatedPluginFailsOnlyTheCallInFlight() throws {
        let scratch = try Scratch()
        let registry = try Self.isolatedRegistry(plugin: try Self.buildCrashingPlugin(in: scratch), name: "crashy")
        let executor = try registry.resolve(labels: ["executor": "crashy"]).get().executor
        defer { (executor as? SubprocessExecutor)?.shutdown() }

        let healthy = executor.execute(request(["crash": "no"]), call: CallContext())
        #expect(healthy.status == .succeeded, "\(healthy)")
        #expect(healthy.outputs["pid"]?.intValue != Int(getpid()))

        for (crash, reason) in [("segv", "exited on signal 11 (SIGSEGV)"), ("abort", "exited on signal 6 (SIGABRT)"),
                                ("exit", "exited with status 7")] {
            let start = ContinuousClock.now
            let crashed = executor.execute(request(["crash": .string(crash)]), call: CallContext())
            #expect(crashed.status == .failed)
            #expect(crashed.message.hasPrefix("executor crashy \(reason)"), "\(crashed.message)")
            // A hang guard: a crash the host did not notice would leave the call waiting.
            #expect(elapsed(since: start) < .seconds(60), "\(crash) took \(elapsed(since: start))")
            // The host keeps serving: the next call restarts the executor host.
            let next = executor.execute(request(["crash": "no"]), call: CallContext())
            #expect(next.status == .succeeded, "after \(crash): \(next)")
        }
    }

    @Test func crashingIsolatedPluginThroughTheRunner() throws {
        let scratch = try Scratch()
        let registry = try Self.isolatedRegistry(plugin: try Self.buildCrashingPlugin(in: scratch), name: "crashy")
        defer { (try? registry.resolve(labels: ["executor": "crashy"]).get().executor as? SubprocessExecutor)?.shutdown() }
        let selector: JSON = ["matchLabels": ["executor": "crashy"]]
        let manifest: JSON = [
            ["kind": "Phase", "id": "boom",
             "spec": ["selector": selector, "x-run": ["crash": "segv"], "onFailure": ["action": "continue"]]],
            ["kind": "Phase", "id": "after", "spec": ["selector": selector, "waitFor": ["phases": ["boom"]], "x-run": [:]]],
        ]
        let result = try runPlan(manifest, registry: registry)
        #expect(result.phase("boom").status == .failed)
        #expect(result.phase("boom").message.contains("executor crashy exited on signal 11"), "\(result.phase("boom").message)")
        #expect(result.phase("after").status == .succeeded, "\(result.phase("after"))")
    }

    @Test func protocolViolationStopsTheExecutorAtOnce() throws {
        // Its first line is not a handshake: the start fails saying so, and the process gets TERM
        // at once (no polite stdin grace first); it ignores TERM, so KILL comes a grace later.
        let scratch = try Scratch()
        let script = try scratch.write("rude.sh", #"""
            trap '' TERM
            echo $$ > "$1/pid"
            echo 'hello, I am not a handshake'
            while :; do sleep 0.05; done
            """#)
        var options = SubprocessExecutor.Options(command: ["/bin/sh", script, scratch.path])
        options.stopGrace = PlanDuration(milliseconds: 1000)
        options.startTimeout = PlanDuration(milliseconds: 20_000)
        let executor = SubprocessExecutor(name: "rude", options: options)
        defer { executor.shutdown() }
        let start = ContinuousClock.now
        let result = executor.execute(request([:]), call: CallContext())
        #expect(result.status == .failed)
        #expect(result.message.contains("executor rude broke the subprocess protocol: did not start with a handshake"),
                "\(result.message)")
        #expect(result.message.contains("hello, I am not a handshake"), "the message shows the line: \(result.message)")
        let pid = try #require(scratch.waitForPid("pid"))
        #expect(isGone(pid), "the rude executor \(pid) was not stopped")
        let took = elapsed(since: start)
        // TERM (ignored) at once, KILL one 1 s grace later: not the 20 s start timeout, and not
        // the polite stop (stdin closed, TERM a grace later, KILL another grace later: 2 s).
        #expect(took >= .milliseconds(900) && took < .milliseconds(1800), "stopped after \(took)")
    }

    @Test func aCancelTheExecutorNeverAnswersEndsTheCallAfterTheGrace() throws {
        // The executor takes the request and ignores the cancel message: the call ends as
        // cancelled once the cancel grace has passed, saying the executor did not answer.
        let scratch = try Scratch()
        let script = try scratch.write("deaf.sh", #"""
            echo '{"type":"handshake","protocol":1,"name":"deaf","version":"1","concurrent":false}'
            read -r line
            echo '{"type":"configured"}'
            while read -r line; do :; done
            """#)
        var options = SubprocessExecutor.Options(command: ["/bin/sh", script])
        options.cancelGrace = PlanDuration(milliseconds: 300)
        let executor = SubprocessExecutor(name: "deaf", options: options)
        defer { executor.shutdown() }
        _ = try executor.start().get()
        let call = CallContext()
        when({ true }) {
            usleep(150_000)
            call.cancel(reason: "run aborted")
        }
        let start = ContinuousClock.now
        let result = executor.execute(request([:]), call: call)
        let took = elapsed(since: start)
        #expect(result.status == .cancelled)
        #expect(result.message == "run aborted; executor deaf did not answer the cancel within 300 ms", "\(result.message)")
        #expect(took >= .milliseconds(400) && took < .milliseconds(3000), "ended after \(took)")
    }
}

extension JSON {
    init(_ value: JSON) { self = value }
}
