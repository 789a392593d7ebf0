import Foundation
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Worker pools across machines: a real nats-server with JetStream, a real `planter serve`
/// whose `build` executor is `remote: {pool: builders}`, and real `planter worker` processes
/// that run the phases with their own shell executor.
@Suite(.serialized) struct WorkerPoolTests {
    /// One `planter worker` process (its own process group, killed with its phases at the end).
    final class Worker: @unchecked Sendable {
        let id: String
        let pid: pid_t
        let logPath: String
        private var reaped = false

        init(id: String, nats: String, pool: String, config: String, directory: String, capacity: Int = 1, arguments: [String] = []) throws {
            self.id = id
            logPath = directory + "/worker-\(id).log"
            var environment = ProcessInfo.processInfo.environment
            for key in environment.keys where key.hasPrefix("PLANTER_") || key == "NATS_URL" { environment[key] = nil }
            pid = try spawnProcessGroup([try Products.planter, "worker", "--nats", nats, "--pool", pool, "--config", config, "--id", id,
                                         "--capacity", "\(capacity)", "--grace", "2"] + arguments, environment: environment, logPath: logPath)
        }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// SIGKILL the worker and every process it started: the machine is gone.
        func kill() {
            guard !reaped else { return }
            let tree = descendants(of: pid)
            Glibc.kill(-pid, SIGKILL)
            for child in tree { Glibc.kill(-child, SIGKILL); Glibc.kill(child, SIGKILL) }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            reaped = true
        }

        /// SIGTERM: drain and exit; the exit status.
        func terminate() -> Int32 {
            Glibc.kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            reaped = true
            return (status >> 8) & 0xff
        }

        deinit { kill() }
    }

    struct Setup {
        let harness: Harness
        let nats: TestDaemon
        let server: ServerProcess
        let workers: [Worker]
    }

    /// `arguments`: worker id → more `planter worker` arguments (e.g. `--namespace`); `serverYAML`: more of the server's
    /// deployment, before its executors; `buildYAML`: more lines of the `build` executor;
    /// `auth`: the nats-server wants this user and password (given in the URLs).
    func withPool(workers ids: [String] = ["w1", "w2"], arguments: [String: [String]] = [:],
                  remote: String = "{pool: builders, scheduleTimeout: 5s, lease: 2s}", serverYAML: String = "", buildYAML: String = "",
                  environment: [String: String] = [:],
                  auth: (user: String, password: String)? = nil, _ body: (Setup) async throws -> Void) async throws {
        try await withHarness { harness in
            let nats = try TestDaemon.nats(directory: harness.path("nats"), auth: auth)
            let url = auth.map { "nats://\($0.user):\($0.password)@127.0.0.1:\(nats.port)" } ?? nats.natsURL
            try harness.write("server.yaml", serverYAML + "executors:\n  - name: build\n    remote: \(remote)\n" + buildYAML)
            try harness.write("worker.yaml", "executors:\n  - name: build\n    plugin: shell\n")
            let workers = try ids.map { try Worker(id: $0, nats: url, pool: "builders", config: harness.path("worker.yaml"),
                                                  directory: harness.directory, arguments: arguments[$0] ?? []) }
            defer { workers.forEach { $0.kill() } }
            let server = try await harness.start(environment: environment.merging(["NATS_URL": url]) { _, new in new },
                                                 arguments: ["--config", harness.path("server.yaml"), "--parallel", "4"])
            if !ids.isEmpty {
                #expect(await eventually(within: 15) { (try? await server.json("/workers"))?["workers"]?.arrayValue?.count == ids.count },
                        "workers: \(workers.map(\.log))")
            }
            try await body(Setup(harness: harness, nats: nats, server: server, workers: workers))
        }
    }

    func buildPhase(_ id: String, _ script: String, extra: String = "") -> String {
        #"{"kind": "Phase", "id": "\#(id)", "spec": {"selector": {"matchLabels": {"executor": "build"}}\#(extra), "x-run": {"script": \#(JSON.string(script).serialized)}}}"#
    }

    @Test func phasesSpreadOverTwoWorkersAndEachResultSaysWhichRanIt() async throws {
        try await withPool { setup in
            let workers = try await setup.server.json("/workers")["workers"]?.arrayValue ?? []
            #expect(Set(workers.compactMap { $0["id"]?.stringValue }) == ["w1", "w2"])
            #expect(workers.allSatisfy { $0["pool"] == "builders" && $0["executors"]?.arrayValue?.contains("build") == true })
            let marks = setup.harness.path("marks")
            let phases = (1...4).map { buildPhase("p\($0)", "sleep 0.5; echo ran on $PLANTER_WORKER_ID; echo $PLANTER_WORKER_ID >> \(marks)") }
            let answer = try await setup.server.post("/plan?wait=true", manifest(phases))
            let result = try answer.json()["result"]
            #expect(result?["status"] == "succeeded", "\(answer) \(setup.workers.map(\.log))")
            var ran: [String] = []
            for phase in result?["phases"]?.arrayValue ?? [] {
                if let worker = phase["attempts"]?.arrayValue?.last?["worker"]?.stringValue { ran.append(worker) }
            }
            #expect(ran.count == 4 && Set(ran) == ["w1", "w2"], "\(ran)")
            #expect(Set(setup.harness.lines("marks")) == ["w1", "w2"])
            let first = result?["phases"]?.arrayValue?.first
            #expect(first?["output"]?.stringValue?.contains("ran on \(first?["attempts"]?.arrayValue?.last?["worker"]?.stringValue ?? "?")") == true,
                    "output streams back: \(first ?? .null)")
        }
    }

    @Test func aWorkerKilledMidPhaseIsLostAndTheRetryRunsOnAnother() async throws {
        try await withPool { setup in
            let marks = setup.harness.path("marks")
            let phase = buildPhase("long", "echo start $PLANTER_WORKER_ID >> \(marks); sleep 2; echo end $PLANTER_WORKER_ID >> \(marks)",
                                   extra: #", "retry": {"maxAttempts": 2, "x-initialDelay": "10ms"}"#)
            let posted = try await setup.server.post("/plan", manifest(phase))
            let runId = try #require(try posted.json()["runId"]?.stringValue)
            #expect(await eventually(within: 10) { setup.harness.lines("marks").count == 1 })
            let victim = try #require(setup.harness.lines("marks").first?.split(separator: " ").last.map(String.init))
            setup.workers.first { $0.id == victim }?.kill()
            #expect(await eventually(within: 20) { (try? await setup.server.json("/runs/\(runId)"))?["status"] != "running" })
            let run = try await setup.server.json("/runs/\(runId)")
            #expect(run["status"] == "succeeded", "\(run)")
            let attempts = run["phases"]?.arrayValue?.first?["attempts"]?.arrayValue ?? []
            #expect(attempts.count == 2)
            // Declared lost by its silent lease or by JetStream's MAX_DELIVERIES advisory, whichever comes first.
            let lost = attempts.first?["message"]?.stringValue ?? ""
            #expect(lost.contains("worker \(victim) lost") || lost.contains("worker \(victim) of pool builders lost"), "\(attempts)")
            #expect(attempts.last?["worker"]?.stringValue != victim)
            // The killed copy never ended; the retry started only after it was declared lost.
            let lines = setup.harness.lines("marks")
            #expect(lines.filter { $0.hasPrefix("end") }.count == 1, "\(lines)")
            #expect(!lines.contains("end \(victim)"))
        }
    }

    @Test func withNoWorkerThePhaseFailsAfterItsScheduleTimeoutNamingThePool() async throws {
        try await withPool(workers: [], remote: "{pool: builders, scheduleTimeout: 1s}") { setup in
            let answer = try await setup.server.post("/plan?wait=true", manifest(buildPhase("orphan", "true", extra: #", "onFailure": {"action": "continue"}"#),
                                                                              buildPhase("patient", "true", extra: #", "x-scheduleTimeout": "1500ms""#)))
            let phases = try answer.json()["result"]?["phases"]?.arrayValue ?? []
            let phase = phases.first { $0["id"] == "orphan" }
            #expect(phase?["status"] == "failed")
            #expect(phase?["message"]?.stringValue?.contains("no worker of pool builders took phase orphan within 1000 ms") == true, "\(phase ?? .null)")
            // The phase's own x-scheduleTimeout wins over the executor's.
            #expect(phases.first { $0["id"] == "patient" }?["message"]?.stringValue?.contains("within 1500 ms") == true, "\(phases)")
            // The item was taken back: a worker that comes later does not run it.
            let late = try Worker(id: "late", nats: setup.nats.natsURL, pool: "builders", config: setup.harness.path("worker.yaml"),
                                  directory: setup.harness.directory)
            defer { late.kill() }
            #expect(await eventually(within: 15) { (try? await setup.server.json("/workers"))?["workers"]?.arrayValue?.count == 1 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(!late.log.contains("orphan"))
        }
    }

    @Test func cancelReachesTheWorkerAndKillsTheProcessGroupThere() async throws {
        try await withPool(workers: ["w1"]) { setup in
            let pidFile = setup.harness.path("pid")
            let posted = try await setup.server.post("/plan", manifest(buildPhase("stuck", "echo $$ > \(pidFile); sleep 60")))
            let runId = try #require(try posted.json()["runId"]?.stringValue)
            #expect(await eventually(within: 10) { (try? String(contentsOfFile: pidFile, encoding: .utf8))?.isEmpty == false })
            let pid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).filter(\.isNumber)))
            #expect(try await setup.server.post("/runs/\(runId)/cancel").status == 202)
            #expect(await eventually(within: 10) { (try? await setup.server.json("/runs/\(runId)"))?["status"] == "cancelled" })
            #expect(isGone(pid), "the phase's process on the worker was killed")
            let attempt = try await setup.server.json("/runs/\(runId)")["phases"]?.arrayValue?.first?["attempts"]?.arrayValue?.first
            #expect(attempt?["worker"] == "w1")
            // SIGTERM drains and exits 0.
            #expect(setup.workers[0].terminate() == 0, "\(setup.workers[0].log)")
        }
    }

    @Test func aRunGoesOnWhenTheNATSServerRestartsMidPhase() async throws {
        try await withPool(workers: ["w1"], remote: "{pool: builders, scheduleTimeout: 20s, lease: 6s}") { setup in
            let marks = setup.harness.path("marks")
            let posted = try await setup.server.post("/plan", manifest(
                buildPhase("during", "echo start >> \(marks); sleep 2; echo end >> \(marks)"),
                buildPhase("after", "echo after >> \(marks)", extra: #", "waitFor": {"phases": ["during"]}"#)))
            let runId = try #require(try posted.json()["runId"]?.stringValue)
            #expect(await eventually(within: 10) { setup.harness.lines("marks") == ["start"] })
            // A short outage, well inside the lease: JetStream keeps the stream on disk.
            setup.nats.stop()
            try await Task.sleep(for: .milliseconds(300))
            try setup.nats.start()
            #expect(await eventually(within: 30) { (try? await setup.server.json("/runs/\(runId)"))?["status"] != "running" })
            let run = try await setup.server.json("/runs/\(runId)")
            #expect(run["status"] == "succeeded", "\(run) \(setup.workers[0].log)")
            #expect(setup.harness.lines("marks") == ["start", "end", "after"])
        }
    }

    @Test func aRestartedPlanterKeepsWhatEndedOnWorkersAndStopsWhatStillRuns() async throws {
        try await withPool(remote: "{pool: builders, scheduleTimeout: 10s, lease: 3s}") { setup in
            let marks = setup.harness.path("marks"), pidFile = setup.harness.path("slow.pid"), first = setup.harness.path("first")
            let slow = "if [ -f \(first) ]; then echo slow-again >> \(marks); else touch \(first); echo $$ > \(pidFile); "
                + "echo slow-start >> \(marks); sleep 30; fi"
            let posted = try await setup.server.post("/plan", manifest(
                buildPhase("quick", "sleep 1; echo quick >> \(marks)"), buildPhase("slow", slow),
                buildPhase("after", "echo after >> \(marks)", extra: #", "waitFor": {"phases": ["quick"]}"#)))
            let runId = try #require(try posted.json()["runId"]?.stringValue)
            #expect(await eventually(within: 10) { setup.harness.lines("marks").contains("slow-start") })
            setup.server.kill()
            // quick ends on its worker while no Planter listens; slow goes on.
            #expect(await eventually(within: 10) { setup.harness.lines("marks").contains("quick") })
            let slowPid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).filter(\.isNumber)))
            #expect(!isGone(slowPid))
            let again = try await setup.harness.start(environment: ["NATS_URL": setup.nats.natsURL],
                                                      arguments: ["--config", setup.harness.path("server.yaml"), "--parallel", "4"])
            // Before serving, the restart had the workers stop what the run left there.
            #expect(isGone(slowPid), "the old attempt of slow was cancelled on its worker")
            let run = try await again.json("/runs/\(runId)")
            #expect(run["status"] == "interrupted", "\(run)")
            let quick = run["phases"]?.arrayValue?.first { $0["id"] == "quick" }
            #expect(quick?["status"] == "succeeded", "\(quick ?? .null)")
            #expect(quick?["message"]?.stringValue?.contains("while Planter was down") == true)
            let resumed = try await again.post("/apply?wait=true")
            let result = try resumed.json()["result"]
            #expect(result?["status"] == "succeeded", "\(resumed)")
            #expect(result?.statuses["quick"] == "skipped", "what ended on a worker while Planter was down is not run again")
            #expect(setup.harness.lines("marks").filter { $0 == "quick" }.count == 1)
            #expect(setup.harness.lines("marks").filter { $0 == "after" }.count == 1)
            #expect(setup.harness.lines("marks").contains("slow-again"))
        }
    }
}
