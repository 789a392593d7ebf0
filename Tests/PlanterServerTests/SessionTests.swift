import Foundation
import PlanterJSON
import PlanterMessaging
import PlanterTestSupport
import Synchronization
import Testing

/// The Phase Manifest Protocol's session interface: a real nats-server (JetStream on), a real
/// `planter serve` with NATS_URL, and the test as the tool/observer on its own NATS connection.
@Suite(.serialized) struct SessionTests {
    /// Everything published on `plan.session.<id>.>` (or another subject), in arrival order.
    final class Recorder: Sendable {
        let messages = Mutex<[NATSMessage]>([])

        func of(_ kind: String) -> [JSON] {
            messages.withLock { $0 }.filter { $0.subject.hasSuffix("." + kind) }.compactMap { try? JSONParser.parse($0.data) }
        }

        func events() -> [String] { of("events").compactMap { $0["event"]?.stringValue } }
        var all: [NATSMessage] { messages.withLock { $0 } }
    }

    struct Setup {
        let nats: TestDaemon
        let client: NATSConnection
        let server: ServerProcess
        let harness: Harness
    }

    func withSessions(environment: [String: String] = [:], _ body: (Setup) async throws -> Void) async throws {
        try await withHarness { harness in
            let nats = try TestDaemon.nats(directory: harness.path("nats"))
            let client = try NATSConnection.connect(NATSSettings(servers: [nats.natsURL], name: "session-test"))
            defer { client.close() }
            var environment = environment
            environment["NATS_URL"] = nats.natsURL
            let server = try await harness.start(environment: environment)
            #expect(await eventually(within: 10) { (try? await server.json("/ready"))?["checks"]?.arrayValue?
                .contains { $0["name"] == "nats" && $0["ok"] == true } ?? false }, "the server reports NATS connected")
            try await body(Setup(nats: nats, client: client, server: server, harness: harness))
        }
    }

    func record(_ client: NATSConnection, _ subject: String) async throws -> Recorder {
        let recorder = Recorder()
        _ = try client.subscribe(subject) { message in recorder.messages.withLock { $0.append(message) } }
        try await client.flush()
        return recorder
    }

    func start(_ client: NATSConnection, _ session: String, _ manifest: String, dryRun: Bool = false) throws {
        try client.publish("plan.session.\(session).start", Array(#"{"manifest": \#(manifest), "dryRun": \#(dryRun)}"#.utf8))
    }

    func request(_ client: NATSConnection, _ subject: String, _ body: String = "") async throws -> JSON {
        try JSONParser.parse(try await client.request(subject, Array(body.utf8), timeoutMs: 5000).data)
    }

    @Test func aToolsStartRunsThePlanAndEveryTransitionIsPublished() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.t1.>")
            try start(setup.client, "t1", manifest(shellPhase("build", "echo compiled"), shellPhase("test", "echo tested", waitFor: ["build"])))
            #expect(await eventually(within: 20) { seen.events().contains("finished") }, "events: \(seen.events())")
            #expect(seen.events().first == "started")
            let states = seen.of("state").map { "\($0["phaseId"]?.stringValue ?? "?"):\($0["status"]?.stringValue ?? "?")" }
            #expect(states == ["build:running", "build:complete", "test:running", "test:complete"])
            #expect(seen.of("state").allSatisfy { $0["updated"]?.stringValue?.hasSuffix("Z") == true })
            #expect(seen.of("log").contains { $0["phaseId"] == "build" && $0["message"]?.stringValue?.contains("compiled") == true })
            // The tool's own .start is not announced again.
            #expect(seen.all.filter { $0.subject.hasSuffix(".start") }.count == 1)

            let state = try await request(setup.client, "plan.session.t1.get_state")
            #expect(state["status"] == "complete", "\(state)")
            #expect(state["phases"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } == ["complete", "complete"])
            let runId = try #require(state["runId"]?.stringValue)
            // The same run is in the HTTP API, triggered by NATS.
            let run = try await setup.server.json("/runs/\(runId)")
            #expect(run["status"] == "succeeded")
        }
    }

    @Test func anInvalidStartRunsNothingAndNamesEveryProblem() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.bad.>")
            try start(setup.client, "bad", manifest(shellPhase("a", "true", waitFor: ["nope"])))
            #expect(await eventually(within: 10) { seen.events().contains("invalid") })
            let problems = seen.of("events").first { $0["event"] == "invalid" }?["problems"]?.arrayValue ?? []
            #expect(problems.contains { $0["path"]?.stringValue?.hasPrefix("/0/spec/waitFor") == true }, "\(problems)")
            try setup.client.publish("plan.session.bad.start", Array("{not json".utf8))
            #expect(await eventually(within: 10) { seen.events().filter { $0 == "invalid" }.count == 2 })
            #expect(try await setup.server.json("/runs")["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func anHTTPPlanIsMirroredOnItsSessionWithAnOriginHeader() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.>")
            let answer = try await setup.server.post("/plan?session=web-1", manifest(shellPhase("only", "echo hi")))
            #expect(answer.status == 200, "\(answer)")
            #expect(try answer.json()["sessionId"] == "web-1")
            #expect(await eventually(within: 20) { seen.events().contains("finished") })
            let start = try #require(seen.all.first { $0.subject == "plan.session.web-1.start" })
            #expect(start.headers[NATSMessage.originHeader]?.hasPrefix("planter-") == true)
            let body = try JSONParser.parse(start.data)
            #expect(body["dryRun"] == false)
            #expect(body["manifest"]?.arrayValue?.first?["id"] == "only")
            // Without ?session= a run still gets one.
            let second = try await setup.server.post("/plan?force=true", manifest(shellPhase("only", "echo hi")))
            #expect(try second.json()["sessionId"]?.stringValue?.hasPrefix("session-") == true)
            // The announcement is not taken as input: nothing else ran.
            try await Task.sleep(for: .milliseconds(300))
            #expect(seen.all.filter { $0.subject == "plan.session.web-1.events" }.compactMap { try? JSONParser.parse($0.data)["event"] }
                .filter { $0 == "started" }.count == 1)
            #expect(try await setup.server.post("/plan?session=has.dot", manifest(shellPhase("x", "true"))).status == 400)
        }
    }

    @Test func aPlanLargerThanTheServersMaxPayloadIsAnnouncedWithoutItsManifest() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.big.>")
            let phases = (0..<12_000).map { #"{"kind": "Phase", "id": "p\#($0)", "spec": {}}"# }
            let answer = try await setup.server.post("/plan?session=big", manifest(phases))
            #expect(answer.status == 200, "\(answer)")
            #expect(await eventually(within: 30) { seen.events().contains("finished") })
            let start = try #require(seen.of("start").first)
            #expect(start["manifest"] == .null)
            #expect(start["manifestOmitted"]?.stringValue?.contains("max_payload") == true, "\(start)")
            #expect(start["planId"]?.stringValue == (try answer.json()["planId"]?.stringValue))
        }
    }

    @Test func controlPausesResumesAndCancelsOverNATSAndHTTP() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.ctl.>")
            let marks = setup.harness.path("marks")
            try start(setup.client, "ctl", manifest(shellPhase("first", "sleep 1; echo first >> \(marks)"),
                                                     shellPhase("second", "echo second >> \(marks)", waitFor: ["first"]),
                                                     shellPhase("third", "sleep 30", waitFor: ["second"])))
            #expect(await eventually(within: 10) { seen.of("state").contains { $0["phaseId"] == "first" && $0["status"] == "running" } })
            let paused = try await request(setup.client, "plan.session.ctl.control", #"{"command": "pause"}"#)
            #expect(paused["paused"] == true, "\(paused)")
            // first finishes; second does not start while paused.
            #expect(await eventually(within: 10) { setup.harness.lines("marks") == ["first"] })
            try await Task.sleep(for: .milliseconds(700))
            #expect(setup.harness.lines("marks") == ["first"])
            #expect(try await setup.server.json("/status")["paused"] == true)
            let runId = try #require(try await request(setup.client, "plan.session.ctl.get_state")["runId"]?.stringValue)
            // Resume over HTTP: the same control.
            let resumed = try await setup.server.post("/runs/\(runId)/resume")
            #expect(resumed.status == 200, "\(resumed)")
            #expect(await eventually(within: 10) { setup.harness.lines("marks") == ["first", "second"] })
            #expect(await eventually(within: 10) { seen.of("state").contains { $0["phaseId"] == "third" && $0["status"] == "running" } })
            _ = try await request(setup.client, "plan.session.ctl.control", #"{"command": "cancel"}"#)
            #expect(await eventually(within: 10) { seen.events().contains("cancelled") }, "\(seen.events())")
            #expect(Array(seen.events().filter { ["paused", "resumed"].contains($0) }) == ["paused", "resumed"])
            let bad = try await request(setup.client, "plan.session.ctl.control", #"{"command": "explode"}"#)
            #expect(bad["error"]?.stringValue?.contains("pause, resume, cancel") == true)
        }
    }

    @Test func diffAndDryRunAnswerWithoutRunningAnything() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "plan.session.dry.>")
            _ = try await setup.server.post("/plan?wait=true", manifest(shellPhase("a", "echo one")))
            try start(setup.client, "dry", manifest(shellPhase("a", "echo two"), shellPhase("b", "true")), dryRun: true)
            #expect(await eventually(within: 10) { seen.events().contains("dryRun") })
            let diff = try await request(setup.client, "plan.session.dry.diff",
                                         #"{"manifest": \#(manifest(shellPhase("a", "echo two"), shellPhase("b", "true")))}"#)
            #expect(diff["added"]?.ids == ["b"], "\(diff)")
            #expect(diff["changed"]?.arrayValue?.first?["id"] == "a")
            let state = try await request(setup.client, "plan.session.dry.get_state")
            #expect(state["status"] == "dryRun")
            #expect(try await setup.server.json("/runs")["runs"]?.arrayValue?.count == 1)
            let unknown = try await request(setup.client, "plan.session.nobody.get_state")
            #expect(unknown["error"]?.stringValue?.contains("no session nobody") == true)
        }
    }

    @Test func namespacesUseTheirOwnSubjects() async throws {
        try await withSessions { setup in
            let seen = try await record(setup.client, "team-a.plan.session.n1.>")
            try setup.client.publish("team-a.plan.session.n1.start", Array(#"{"manifest": \#(manifest(shellPhase("x", "true")))}"#.utf8))
            #expect(await eventually(within: 20) { seen.events().contains("finished") })
            let runs = try await setup.server.json("/namespaces/team-a/runs")
            #expect(runs["runs"]?.arrayValue?.count == 1)
            #expect(try await setup.server.json("/runs")["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func aRunGoesOnWhileNATSRestartsAndSessionsComeBack() async throws {
        try await withSessions { setup in
            setup.nats.stop()
            #expect(await eventually(within: 10) { (try? await setup.server.json("/ready"))?["checks"]?.arrayValue?
                .contains { $0["name"] == "nats" && $0["ok"] == false } ?? false })
            // HTTP plans still run (and /ready stays ready: NATS is not fatal).
            let answer = try await setup.server.post("/plan?wait=true", manifest(shellPhase("while-down", "true")))
            #expect(try answer.json()["result"]?["status"] == "succeeded", "\(answer)")
            #expect(try await setup.server.get("/ready").status == 200)
            try setup.nats.start()
            #expect(await eventually(within: 20) { setup.client.isConnected })
            #expect(await eventually(within: 20) { (try? await setup.server.json("/ready"))?["checks"]?.arrayValue?
                .contains { $0["name"] == "nats" && $0["ok"] == true } ?? false })
            let seen = try await record(setup.client, "plan.session.back.>")
            try start(setup.client, "back", manifest(shellPhase("after", "true")))
            #expect(await eventually(within: 20) { seen.events().contains("finished") }, "subscriptions restored after the restart")
        }
    }
}

/// The hybrid model: a runtime peer on NATS executes the phases of a `session: {runtime: true}` executor.
@Suite(.serialized) struct SessionRuntimeTests {
    func runtimePhase(_ id: String, waitFor: [String] = [], extra: String = "") -> String {
        let wait = waitFor.isEmpty ? "" : #", "waitFor": {"phases": [\#(waitFor.map { "\"\($0)\"" }.joined(separator: ", "))]}"#
        return #"{"kind": "Phase", "id": "\#(id)", "spec": {"selector": {"matchLabels": {"executor": "runtime"}}\#(wait)\#(extra)}}"#
    }

    @Test func aRuntimePeerExecutesTheTargetsAndItsStateIsThePhasesProgress() async throws {
        try await withHarness { harness in
            let nats = try TestDaemon.nats(directory: harness.path("nats"))
            try harness.write("deploy.yaml", """
                executors:
                  - name: runtime
                    session: {runtime: true, ackTimeout: 1s}
                  - name: shell
                    plugin: shell
                """)
            let peer = try NATSConnection.connect(NATSSettings(servers: [nats.natsURL], name: "runtime-peer"))
            defer { peer.close() }
            let targets = Mutex<[String]>([])
            // The peer: accepts `build` and `deploy` (running, a log line, complete), refuses `refused`, ignores `silent`.
            _ = try peer.subscribe("plan.session.*.target") { message in
                guard let body = try? JSONParser.parse(message.data), let phase = body["phaseId"]?.stringValue else { return }
                targets.withLock { $0.append(phase) }
                let base = String(message.subject.dropLast("target".count))
                func send(_ kind: String, _ json: String) { try? peer.publish(base + kind, Array(json.utf8)) }
                switch phase {
                case "silent": return
                case "refused": send("ack", #"{"phaseId": "refused", "accepted": false, "queued": false, "reason": "no capacity"}"#)
                default:
                    send("ack", #"{"phaseId": "\#(phase)", "accepted": true, "queued": true}"#)
                    send("state", #"{"phaseId": "\#(phase)", "status": "running", "updated": "2026-12-02T06:00:00Z"}"#)
                    send("log", #"{"phaseId": "\#(phase)", "level": "info", "message": "Executing phase: \#(phase)", "timestamp": "2026-12-02T06:00:00Z"}"#)
                    send("state", #"{"phaseId": "\#(phase)", "status": "complete", "updated": "2026-12-02T06:00:01Z"}"#)
                }
            }
            try await peer.flush()
            let server = try await harness.start(environment: ["NATS_URL": nats.natsURL], arguments: ["--config", harness.path("deploy.yaml")])
            #expect(await eventually(within: 10) { (try? await server.json("/ready"))?["checks"]?.arrayValue?
                .contains { $0["name"] == "nats" && $0["ok"] == true } ?? false })

            let good = try await server.post("/plan?wait=true", manifest(runtimePhase("build"), runtimePhase("deploy", waitFor: ["build"])))
            let result = try good.json()["result"]
            #expect(result?["status"] == "succeeded", "\(good)")
            #expect(targets.withLock { $0 } == ["build", "deploy"], "deploy is targeted only after build completed")
            let run = try await server.json("/runs/\(result?["runId"]?.stringValue ?? "")")
            #expect(run["phases"]?.arrayValue?.first?["output"]?.stringValue?.contains("Executing phase: build") == true, "\(run)")

            let bad = try await server.post("/plan?wait=true", manifest(
                runtimePhase("refused", extra: #", "retry": {"maxAttempts": 2, "x-initialDelay": "10ms"}"#)))
            let refused = try bad.json()["result"]?["phases"]?.arrayValue?.first { $0["id"] == "refused" }
            #expect(refused?["status"] == "failed")
            #expect(refused?["attempts"]?.arrayValue?.count == 2, "the retry policy applies to a refusal")
            #expect(refused?["message"]?.stringValue?.contains("refused phase refused: no capacity") == true, "\(refused ?? .null)")
            let quiet = try await server.post("/plan?wait=true", manifest(runtimePhase("silent")))
            let silent = try quiet.json()["result"]?["phases"]?.arrayValue?.first { $0["id"] == "silent" }
            #expect(silent?["message"]?.stringValue?.contains("no .ack from the session's runtime within 1000 ms") == true, "\(silent ?? .null)")
        }
    }

    @Test func withoutNATSARuntimeExecutorMakesThePlanInvalidSayingWhy() async throws {
        try await withHarness { harness in
            try harness.write("deploy.yaml", "executors:\n  - name: runtime\n    session: {runtime: true}\n")
            let server = try await harness.start(arguments: ["--config", harness.path("deploy.yaml")])
            let answer = try await server.post("/plan", manifest(runtimePhase("x")))
            #expect(answer.status == 400)
            #expect(answer.text.contains("set NATS_URL"), "\(answer)")
        }
    }
}
