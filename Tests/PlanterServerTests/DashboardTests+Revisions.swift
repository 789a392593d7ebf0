import Foundation
import PlanterJSON
import Testing

/// Older plan revisions in the dashboard's API: GET /graph.svg?planId= (read from the history
/// store, laid out once per revision by a real `dot`), GET /diff?from=&to=, and a collapsed
/// graph grouped by a label (`groupBy=label:<key>`).
extension DashboardTests {
    /// The second revision: lint is gone, deploy is new, build's script and ship's waitFor changed.
    static let secondPlan = manifest(shellPhase("fetch", "echo fetched"), shellPhase("build", "echo built again", waitFor: ["fetch"]),
                                     shellPhase("ship", "echo shipped", waitFor: ["build"]), shellPhase("deploy", "echo deployed", waitFor: ["ship"]))

    /// A `dot` that counts its runs in `dot-runs` before it lays out.
    static func countingDot(_ harness: Harness) throws -> String {
        try harness.write("dot-counting", "#!/bin/sh\necho ran >> '\(harness.path("dot-runs"))'\nexec dot \"$@\"\n")
        chmod(harness.path("dot-counting"), 0o755)
        return harness.path("dot-counting")
    }

    @Test func graphOfAnOlderRevisionComesFromTheHistory() async throws {
        try await withHarness { harness in
            let server = try await harness.start(environment: ["PLANTER_DOT": try Self.countingDot(harness)])
            let first = try await server.plan(Self.plan, "wait=true")["planId"]?.stringValue ?? "?"
            let second = try await server.plan(Self.secondPlan, "wait=true")["planId"]?.stringValue ?? "?"
            #expect(first != second)

            let applied = try await server.get("/graph.svg")
            #expect(applied.status == 200 && applied.header("x-planter-plan") == second, "\(applied)")
            #expect(applied.text.contains("data-phase=\"deploy\"") && !applied.text.contains("data-phase=\"lint\""))

            let older = try await server.get("/graph.svg?planId=\(first)")
            #expect(older.status == 200, "\(older)")
            #expect(older.header("x-planter-plan") == first && older.header("x-planter-graph") == "phases")
            let svg = older.text
            #expect(svg.contains("data-plan=\"\(first)\""))
            for phase in ["fetch", "build", "lint", "ship"] {
                // Not the applied plan: no live status is painted on it (the run page paints its run's).
                #expect(svg.contains("data-phase=\"\(phase)\" tabindex=\"0\" role=\"button\" aria-label=\"\(phase)\" data-status=\"pending\""),
                        "\(phase): \(svg.prefix(2000))")
            }
            #expect(!svg.contains("data-phase=\"deploy\""))
            #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 4, "the first revision's four waitFor edges")
            // The applied one asked by id is the same as without it: live statuses.
            let byId = try await server.get("/graph.svg?planId=\(second)")
            #expect(byId.status == 200 && byId.text.contains("aria-label=\"deploy\" data-status=\"succeeded\""), "\(byId)")

            // Each revision was laid out once, however often it is asked for.
            for _ in 0..<3 { #expect(try await server.get("/graph.svg?planId=\(first)").status == 200) }
            #expect(try await server.get("/graph.svg").status == 200)
            #expect(harness.lines("dot-runs").count == 2, "dot runs: \(harness.lines("dot-runs").count)")

            // The run of the first revision names it, so its page can ask for this graph.
            let runs = try await server.json("/runs?planId=\(first)")
            #expect(runs["runs"]?.arrayValue?.count == 1 && runs["runs"]?.arrayValue?.first?["planId"]?.stringValue == first, "\(runs)")

            let unknown = try await server.get("/graph.svg?planId=p-20200101T000000-0")
            #expect(unknown.status == 404 && unknown.errorCode == "notFound", "\(unknown)")
            #expect(unknown.errorMessage.contains("\"p-20200101T000000-0\""), "\(unknown)")
            for bad in ["p%20x", "", "a%2Fb", String(repeating: "p", count: 201)] {
                let answer = try await server.get("/graph.svg?planId=\(bad)")
                #expect(answer.status == 400 && answer.errorMessage.hasPrefix("query parameter planId:"), "\(bad): \(answer)")
                #expect(try answer.json()["error"]?["details"]?.arrayValue?.first?["path"]?.stringValue == "?planId")
            }
            #expect(harness.lines("dot-runs").count == 2, "refused requests lay nothing out")
        }
    }

    @Test func diffBetweenAnyTwoRevisions() async throws {
        try await withServer { server, _ in
            let first = try await server.plan(Self.plan, "wait=true")["planId"]?.stringValue ?? "?"
            let second = try await server.plan(Self.secondPlan, "wait=true")["planId"]?.stringValue ?? "?"

            let diff = try await server.json("/diff?from=\(first)&to=\(second)")
            #expect(diff["summary"] == ["added": 1, "removed": 1, "changed": 2, "unchanged": 1], "\(diff)")
            #expect(diff["added"] == ["deploy"] && diff["removed"] == ["lint"] && diff["unchanged"] == ["fetch"])
            #expect(diff["fromPlanId"]?.stringValue == first && diff["toPlanId"]?.stringValue == second)
            // The same shape as the staged diff: the applied and staged ids are there too.
            #expect(diff["appliedPlanId"]?.stringValue == second && diff["stagedPlanId"] == .null && diff["staged"] == .null)
            let build = diff["changed"]?.arrayValue?.first { $0["id"] == "build" }
            let change = build?["changes"]?.arrayValue?.first
            #expect(change?["path"] == "/spec/x-run/script" && change?["old"] == "echo built" && change?["new"] == "echo built again",
                    "\(build ?? .null)")
            #expect(change?["op"] == "replace")

            // Backwards, and a revision against itself.
            let back = try await server.json("/diff?from=\(second)&to=\(first)")
            #expect(back["added"] == ["lint"] && back["removed"] == ["deploy"])
            let same = try await server.json("/diff?from=\(first)&to=\(first)")
            #expect(same["summary"] == ["added": 0, "removed": 0, "changed": 0, "unchanged": 4], "\(same)")

            // A staged revision is one of them; GET /diff alone is still staged against applied.
            let staged = try await server.plan(Self.plan, "stage=true")["planId"]?.stringValue ?? "?"
            let toStaged = try await server.json("/diff?from=\(second)&to=\(staged)")
            #expect(toStaged["added"] == ["lint"] && toStaged["stagedPlanId"]?.stringValue == staged, "\(toStaged)")
            let stagedDiff = try await server.json("/diff")
            #expect(stagedDiff["stagedPlanId"]?.stringValue == staged && stagedDiff["fromPlanId"] == nil)
            #expect(stagedDiff["added"] == ["lint"])

            let unknown = try await server.get("/diff?from=\(first)&to=p-nope")
            #expect(unknown.status == 404 && unknown.errorMessage.contains("\"p-nope\""), "\(unknown)")
            // One side named: the other is the applied plan.
            let againstApplied = try await server.json("/diff?from=\(first)")
            #expect(againstApplied["toPlanId"]?.stringValue == second && againstApplied["added"] == ["deploy"], "\(againstApplied)")
            let malformed = try await server.get("/diff?from=%3Cx%3E&to=\(first)")
            #expect(malformed.status == 400 && malformed.errorMessage.hasPrefix("query parameter from:"), "\(malformed)")
        }
    }

    @Test func collapsedGraphGroupsByLabel() async throws {
        try await withServer(environment: ["PLANTER_GRAPH_MAX_NODES": "3"]) { server, _ in
            // Six phases: web (3, a chain) waits on nothing, api (2) waits for web's first, one has no team.
            func phase(_ id: String, team: String?, waitFor: [String] = []) -> String {
                let labels = team.map { #", "selector": {"matchLabels": {"team": "\#($0)"}}"# } ?? ""
                let wait = waitFor.isEmpty ? "" : #", "waitFor": {"phases": [\#(waitFor.map { "\"\($0)\"" }.joined(separator: ", "))]}"#
                return #"{"kind": "Phase", "id": "\#(id)", "spec": {"description": "x"\#(labels)\#(wait)}}"#
            }
            let plan = manifest(phase("w1", team: "web"), phase("w2", team: "web", waitFor: ["w1"]), phase("w3", team: "web", waitFor: ["w2"]),
                                phase("a1", team: "api", waitFor: ["w1"]), phase("a2", team: "api", waitFor: ["a1"]), phase("lone", team: nil))
            try await server.plan(plan, "wait=true")

            let byWave = try await server.get("/graph.svg")
            #expect(byWave.status == 200 && byWave.header("x-planter-group-by") == "wave", "\(byWave)")
            #expect(byWave.text.contains("data-wave=\"1\" data-count=\"2\""), "w1 and lone: \(byWave.text.prefix(1500))")

            let answer = try await server.get("/graph.svg?groupBy=label:team")
            #expect(answer.status == 200, "\(answer)")
            #expect(answer.header("x-planter-graph") == "collapsed" && answer.header("x-planter-group-by") == "label:team")
            let svg = answer.text
            #expect(!svg.contains("data-wave=") && !svg.contains("data-phase="))
            #expect(svg.contains("data-group-by=\"label:team\""))
            for (value, count) in [("api", 2), ("web", 3)] {
                #expect(svg.contains("data-label=\"team\" data-value=\"\(value)\" data-count=\"\(count)\""), "\(value): \(svg.prefix(2000))")
                #expect(svg.contains("<title>team=\(value): \(count) phases</title>"))
            }
            #expect(svg.contains("data-label=\"team\" data-count=\"1\" tabindex=\"0\" role=\"button\" aria-label=\"no team, 1 phase\" data-status=\"succeeded\""),
                    "the phase without the label: \(svg.prefix(2000))")
            // a1 waits for w1: one edge web → api; nothing joins the phase without a team.
            #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 1, "\(svg)")

            for bad in ["label:", "label", "team", "", "label:a%20b", "WAVE"] {
                let refused = try await server.get("/graph.svg?groupBy=\(bad)")
                #expect(refused.status == 400 && refused.errorMessage.hasPrefix("query parameter groupBy:"), "\(bad): \(refused)")
                #expect(try refused.json()["error"]?["details"]?.arrayValue?.first?["path"]?.stringValue == "?groupBy")
            }
        }
    }
}
