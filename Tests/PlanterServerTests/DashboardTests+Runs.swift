import Foundation
import PlanterJSON
import Testing

/// A run's graph (what the dashboard's run page draws): GET /graph.svg?runId= lays out the
/// revision the run ran, collapsed past PLANTER_GRAPH_MAX_NODES, each node coloured with that
/// run's statuses, not the live ones.
extension DashboardTests {
    /// The status of each collapsed node `data-wave="N"`, in wave order.
    static func waveStatuses(_ svg: String) -> [String] {
        var statuses: [String] = []
        for wave in 1... {
            guard let node = svg.range(of: "data-wave=\"\(wave)\""),
                let status = svg.range(of: "data-status=\"", range: node.upperBound..<svg.endIndex),
                let end = svg[status.upperBound...].firstIndex(of: "\"")
            else { break }
            statuses.append(String(svg[status.upperBound..<end]))
        }
        return statuses
    }

    @Test func collapsedGraphOfARunHasThatRunsStatuses() async throws {
        try await withServer(environment: ["PLANTER_GRAPH_MAX_NODES": "3"]) { server, _ in
            // fetch, build, lint (fails), ship (skipped: it waits for lint): one wave each.
            let firstRun = try await server.plan(Self.plan, "wait=true")
            let first = try #require(firstRun["runId"]?.stringValue)
            let firstPlan = try #require(firstRun["planId"]?.stringValue)
            // fetch alone: the other phases are skipped in this run, and keep their outcome in the plan.
            let rerun = try #require(try await server.post("/phases/fetch/run?wait=true").json()["runId"]?.stringValue)

            let live = try await server.get("/graph.svg")
            #expect(live.header("x-planter-graph") == "collapsed" && live.header("x-planter-run") == nil, "\(live)")
            #expect(Self.waveStatuses(live.text) == ["succeeded", "succeeded", "failed", "skipped"], "\(live.text.prefix(2000))")

            let ofRerun = try await server.get("/graph.svg?runId=\(rerun)")
            #expect(ofRerun.status == 200 && ofRerun.header("x-planter-graph") == "collapsed", "\(ofRerun)")
            #expect(ofRerun.header("x-planter-run") == rerun && ofRerun.header("x-planter-plan") == firstPlan)
            #expect(Self.waveStatuses(ofRerun.text) == ["succeeded", "skipped", "skipped", "skipped"], "\(ofRerun.text.prefix(2000))")
            #expect(ofRerun.text.contains("data-wave=\"3\" data-count=\"1\" tabindex=\"0\" role=\"button\" aria-label=\"wave 3, 1 phase\""),
                    "each group with its count: \(ofRerun.text.prefix(2000))")

            // Once another revision is applied, the first run still draws its own, from the history.
            let second = try #require(try await server.plan(Self.secondPlan, "wait=true")["planId"]?.stringValue)
            #expect(second != firstPlan)
            let ofFirst = try await server.get("/graph.svg?runId=\(first)")
            #expect(ofFirst.status == 200 && ofFirst.header("x-planter-plan") == firstPlan, "\(ofFirst)")
            #expect(Self.waveStatuses(ofFirst.text) == ["succeeded", "succeeded", "failed", "skipped"], "\(ofFirst.text.prefix(2000))")
            // Grouped by a label: the one group has the most urgent status of its phases in that run.
            let byLabel = try await server.get("/graph.svg?runId=\(first)&groupBy=label:executor")
            #expect(byLabel.text.contains("data-label=\"executor\" data-value=\"shell\" data-count=\"4\"")
                    && byLabel.text.contains("data-status=\"failed\""), "\(byLabel.text.prefix(2000))")
            // planId picks the revision, runId the statuses.
            let mixed = try await server.get("/graph.svg?runId=\(first)&planId=\(second)")
            #expect(mixed.header("x-planter-plan") == second && mixed.header("x-planter-run") == first, "\(mixed)")

            let unknown = try await server.get("/graph.svg?runId=r-20200101T000000-0")
            #expect(unknown.status == 404 && unknown.errorMessage.contains("r-20200101T000000-0"), "\(unknown)")
            for (query, name) in [("runId=a%20b", "runId"), ("runId=", "runId"), ("runId=r-nope&planId=a%2Fb", "planId")] {
                let refused = try await server.get("/graph.svg?\(query)")
                #expect(refused.status == 400 && refused.errorMessage.hasPrefix("query parameter \(name):"), "\(query): \(refused)")
            }
        }
    }
}
