import Foundation
import PlanterJSON
import Testing

/// Namespaces on the real server: runs of two namespaces side by side, each namespace's state
/// and history across a restart, and the 400/404 of bad and unknown names.
@Suite struct NamespaceTests {
    /// A phase that marks `mine` started, then waits (up to 10 s) for `other` to have started:
    /// it succeeds only when the two namespaces' runs overlap.
    static func meetingPhase(_ id: String, mine: String, other: String) -> String {
        shellPhase(id, "touch \(mine); i=0; while [ $i -lt 200 ]; do [ -e \(other) ] && exit 0; sleep 0.05; i=$((i+1)); done; "
            + "echo 'the other namespace never started' >&2; exit 1")
    }

    /// Polls `<base>/runs/<id>` until the run has ended.
    static func waitForRun(_ server: ServerProcess, _ base: String, _ runId: String, timeout: Double = 30) async throws -> JSON {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let answer = try await server.get("\(base)/runs/\(runId)")
            if answer.status == 200, let run = try? answer.json(), let status = run["status"]?.stringValue,
                status != "running" && status != "pending" {
                return run
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("run \(runId) of \(base) did not end within \(timeout)s")
    }

    @Test func twoNamespacesRunSideBySideAndKeepTheirOwnStateAcrossARestart() async throws {
        try await withHarness { harness in
            // Two slots at least, whatever the cores: the two phases must meet.
            let server = try await harness.start(arguments: ["--parallel", "2"])
            let a = manifest(Self.meetingPhase("a1", mine: harness.path("a.started"), other: harness.path("b.started")),
                             recordingPhase("a2", log: harness.path("a.log"), waitFor: ["a1"]))
            let b = manifest(Self.meetingPhase("b1", mine: harness.path("b.started"), other: harness.path("a.started")))
            // Neither waits: with one run at a time for the whole server, the second would be a 409.
            let postedA = try await server.post("/namespaces/team-a/plan", a)
            let postedB = try await server.post("/namespaces/team-b/plan", b)
            #expect(postedA.status == 200, "\(postedA)")
            #expect(postedB.status == 200, "\(postedB)")
            let runA = try #require(try postedA.json()["runId"]?.stringValue)
            let runB = try #require(try postedB.json()["runId"]?.stringValue)
            let endedA = try await Self.waitForRun(server, "/namespaces/team-a", runA)
            let endedB = try await Self.waitForRun(server, "/namespaces/team-b", runB)
            #expect(endedA["status"]?.stringValue == "succeeded", "\(endedA)")
            #expect(endedB["status"]?.stringValue == "succeeded", "\(endedB)")
            #expect(endedA.statuses == ["a1": "succeeded", "a2": "succeeded"])

            // Each namespace has its own plan; the root routes serve `default`, which has none.
            let stateA = try await server.json("/namespaces/team-a/state")
            let stateB = try await server.json("/namespaces/team-b/state")
            #expect(stateA["phases"]?.ids == ["a1", "a2"])
            #expect(stateB["phases"]?.ids == ["b1"])
            #expect(try await server.json("/state")["planId"]?.isNull == true)
            #expect(try await server.json("/namespaces/team-b/runs")["runs"]?.arrayValue?.compactMap { $0["runId"]?.stringValue } == [runB])
            let listed = try await server.json("/namespaces")["namespaces"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(listed == ["default", "team-a", "team-b"])
            #expect(FileManager.default.fileExists(atPath: harness.path("root/namespaces/team-a/state/state.json")))

            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: 30) == 0, "\(server.log())")
            let again = try await harness.start(arguments: ["--parallel", "2"])
            #expect(try await again.json("/namespaces/team-a/state")["planId"] == stateA["planId"])
            #expect(try await again.json("/namespaces/team-b/state")["phases"]?.ids == ["b1"])
            #expect(try await again.json("/namespaces/team-a/runs/\(runA)")["status"]?.stringValue == "succeeded")
            let events = try await again.json("/namespaces/team-a/logs?runId=\(runA)")
            #expect((events["count"]?.intValue ?? 0) > 0, "\(events)")
            // The same plan again runs nothing: the namespace's phase states survived too.
            let rerun = try await again.post("/namespaces/team-a/plan?wait=true", a).json()
            #expect(rerun["result"]?.statuses == ["a1": "skipped", "a2": "skipped"], "\(rerun)")
        }
    }

    @Test func aNamespacesParallelLimitCapsItsPhasesAtOnce() async throws {
        try await withHarness { harness in
            try harness.write("deployment.yaml", """
                parallel: 4
                namespaces:
                  one-at-a-time: {parallel: 1}
                  noop-only: {executors: [noop]}
                executors:
                  - name: shell
                    plugin: shell
                """)
            let server = try await harness.start(arguments: ["--config", harness.path("deployment.yaml")])
            // Each phase holds a lock folder for 300 ms: two at once make one of them fail.
            func plan(_ lock: String) -> String {
                manifest((1...3).map { shellPhase("p\($0)", "mkdir \(harness.path(lock)) || exit 1; sleep 0.3; rmdir \(harness.path(lock))") })
            }
            let capped = try await server.post("/namespaces/one-at-a-time/plan?wait=true", plan("capped")).json()
            #expect(capped["result"]?["status"]?.stringValue == "succeeded", "\(capped)")
            // Without the limit the same plan overlaps (so the test can tell).
            let open = try await server.post("/namespaces/open/plan?wait=true", plan("open")).json()
            #expect(open["result"]?["status"]?.stringValue == "failed", "\(open)")
            // A namespace limited to some executors is refused a plan with another (400, and nothing is created).
            let refused = try await server.post("/namespaces/noop-only/plan", plan("x"))
            #expect(refused.status == 400, "\(refused)")
            #expect(refused.text.contains("phase \\\"p1\\\" runs on executor \\\"shell\\\", which this namespace may not use"), "\(refused)")
            #expect(try await server.get("/namespaces/noop-only/state").status == 404)
            let allowed = try await server.post("/namespaces/noop-only/plan?wait=true", manifest(#"{"kind": "Phase", "id": "n", "spec": {"selector": {"matchLabels": {"executor": "noop"}}}}"#))
            #expect(allowed.status == 200, "\(allowed)")
        }
    }

    @Test func namespacesShareTheServersSlotsTakingTurns() async throws {
        try await withHarness { harness in
            let server = try await harness.start(arguments: ["--parallel", "2"])
            let log = harness.path("times.log")
            // Each phase logs its start and end (nanoseconds), so the test sees what overlapped.
            func timed(_ id: String, _ seconds: String) -> String {
                shellPhase(id, "echo \"$(date +%s%N) 1 \(id)\" >> \(log); sleep \(seconds); echo \"$(date +%s%N) -1 \(id)\" >> \(log)")
            }
            let busy = try await server.post("/namespaces/busy/plan", manifest((1...8).map { timed("busy\($0)", "0.4") }))
            #expect(busy.status == 200, "\(busy)")
            try await Task.sleep(for: .milliseconds(200))
            let quick = try await server.post("/namespaces/quick/plan?wait=true", manifest((1...3).map { timed("quick\($0)", "0.1") })).json()
            #expect(quick["result"]?["status"]?.stringValue == "succeeded", "\(quick)")
            let busyRun = try #require(try busy.json()["runId"]?.stringValue)
            _ = try await Self.waitForRun(server, "/namespaces/busy", busyRun)
            let events = harness.lines("times.log").map { $0.split(separator: " ") }.compactMap { fields -> (Int, Int, String)? in
                guard fields.count == 3, let time = Int(fields[0]), let step = Int(fields[1]) else { return nil }
                return (time, step, String(fields[2]))
            }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            #expect(events.count == 22, "\(events)")
            // Never more than the server's 2 at once, across both namespaces.
            var running = 0, most = 0
            for event in events {
                running += event.1
                most = max(most, running)
            }
            #expect(most <= 2, "\(most) phases at once: \(events)")
            // Taking turns: the quick namespace is done while the busy one still has phases to start.
            let quickEnd = events.filter { $0.2.hasPrefix("quick") && $0.1 == -1 }.map(\.0).max() ?? .max
            let busyLastStart = events.filter { $0.2.hasPrefix("busy") && $0.1 == 1 }.map(\.0).max() ?? 0
            #expect(quickEnd < busyLastStart, "\(events)")
        }
    }

    @Test func aBadNamespacesSectionStopsTheStartNamingEachProblem() async throws {
        try await withHarness { harness in
            try harness.write("deployment.yaml", "namespaces:\n  Team_A: {parallel: 0}\n  b: {paralel: 2}\n  c: {executors: [nope]}\n")
            let text = try await harness.startupFailure(arguments: ["--config", harness.path("deployment.yaml")])
            #expect(text.contains("exited (2)"), "\(text)")
            #expect(text.contains("/namespaces/Team_A: \"Team_A\" is not a valid namespace name"), "\(text)")
            #expect(text.contains("/namespaces/Team_A/parallel: parallel (the namespace's phases at once) must be in 1...4096, got 0"), "\(text)")
            #expect(text.contains("/namespaces/b/paralel: unknown field"), "\(text)")
            #expect(text.contains("/namespaces/c/executors/0: unknown executor \"nope\""), "\(text)")
        }
    }

    @Test func badNamesAre400AndUnknownNamespaces404() async throws {
        try await withServer { server, _ in
            for name in ["Team-A", "-a", "a-", "team_a", String(repeating: "a", count: 64), "a.b"] {
                let answer = try await server.get("/namespaces/\(name)/state")
                #expect(answer.status == 400, "\(name): \(answer)")
                #expect(answer.errorMessage.contains("DNS label"), "\(name): \(answer)")
                #expect(try await server.post("/namespaces/\(name)/plan", manifest(recordingPhase("x", log: "/dev/null"))).status == 400)
            }
            #expect(try await server.get("/namespaces/\(String(repeating: "a", count: 63))/state").status == 404)
            let unknown = try await server.get("/namespaces/team-c/state")
            #expect(unknown.status == 404, "\(unknown)")
            #expect(unknown.errorMessage.contains("no namespace \"team-c\""), "\(unknown)")
            #expect(try await server.get("/namespaces/team-c/runs").status == 404)
            // A refused plan creates nothing; a dry run does not either.
            #expect(try await server.post("/namespaces/team-c/plan", "[{\"kind\": \"Phase\"}]").status == 400)
            #expect(try await server.post("/namespaces/team-c/plan?dryRun=true", manifest(recordingPhase("x", log: "/dev/null"))).status == 404)
            #expect(try await server.json("/namespaces")["namespaces"]?.arrayValue?.count == 1)
        }
    }
}
