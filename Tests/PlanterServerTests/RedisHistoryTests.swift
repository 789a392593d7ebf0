import Foundation
import PlanterJSON
import PlanterTestSupport
import Testing

/// REDIS_URL: real `planter serve` processes on a real redis-server (free loopback port).
/// Redis is the store of record: a second Planter on it sees the first one's plans, runs,
/// logs and phase history; retention prunes Redis too.
@Suite(.serialized) struct RedisHistoryTests {
    @Test func aSecondPlanterOnTheSameRedisSeesPlansRunsAndLogs() async throws {
        let redis = try RedisServerProcess(password: "pw")
        try await withHarness { harness in
            let environment = ["REDIS_URL": redis.url(database: 1)]
            let first = try await harness.start(root: "first", environment: environment)
            let second = try await harness.start(root: "second", environment: environment)
            let answer = try await first.plan(manifest(shellPhase("a", "echo hello-a"), shellPhase("b", "echo hello-b", waitFor: ["a"])),
                                              "wait=true")
            let runId = try #require(answer["runId"]?.stringValue)
            let planId = try #require(answer["planId"]?.stringValue)

            let runs = try await second.json("/runs")["runs"]?.arrayValue ?? []
            #expect(runs.compactMap { $0["runId"]?.stringValue } == [runId], "\(runs)")
            let run = try await second.json("/runs/\(runId)")
            #expect(run.statuses == ["a": "succeeded", "b": "succeeded"])
            #expect(run == (try await first.json("/runs/\(runId)")))
            let plans = try await second.json("/plans")["plans"]?.arrayValue ?? []
            #expect(plans.compactMap { $0["planId"]?.stringValue } == [planId], "\(plans)")
            #expect(try await second.json("/plans/\(planId)")["phases"]?.ids == ["a", "b"])

            let logs = try await second.json("/logs?runId=\(runId)")
            let events = logs["events"]?.arrayValue ?? []
            #expect(events.count >= 6, "\(logs.serialized)")
            #expect(events == (try await first.json("/logs?runId=\(runId)"))["events"]?.arrayValue, "the same events and cursors")
            #expect(events.contains { ($0["message"]?.stringValue ?? "").contains("hello-b") }, "the output lines too")
            let onlyB = try await second.json("/logs?runId=\(runId)&phaseId=b")["events"]?.arrayValue ?? []
            #expect(!onlyB.isEmpty && onlyB.allSatisfy { $0["phaseId"] == "b" })
            // Paging: the newest two, then forward from the first event's cursor.
            let newest = try await second.json("/logs?runId=\(runId)&limit=2")
            #expect(newest["events"]?.arrayValue == Array(events.suffix(2)) && newest["more"] == true)
            let firstSeq = try #require(events.first?["seq"]?.intValue)
            let rest = try await second.json("/logs?runId=\(runId)&after=\(firstSeq)&limit=1000")["events"]?.arrayValue ?? []
            #expect(rest == Array(events.dropFirst()))

            // The second applies the plan too (it had none, so it runs): phase a's history holds both runs.
            let again = try await second.plan(manifest(shellPhase("a", "echo hello-a"), shellPhase("b", "echo hello-b", waitFor: ["a"])),
                                              "wait=true")
            let secondRun = try #require(again["runId"]?.stringValue)
            let history = try await second.json("/phases/a")["history"]?.arrayValue ?? []
            #expect(history.compactMap { $0["runId"]?.stringValue } == [secondRun, runId], "newest first: \(history)")
            #expect(history.last?["attempts"]?.arrayValue?.first?["status"] == "succeeded")
            #expect(try await first.json("/runs")["runs"]?.arrayValue?.compactMap { $0["runId"]?.stringValue } == [secondRun, runId])

            let ready = try await first.json("/ready")
            let check = ready["checks"]?.arrayValue?.first { $0["name"] == "redis" }
            #expect(check?["ok"] == true, "\(ready.serialized)")
            let message = check?["message"]?.stringValue ?? ""
            #expect(!message.contains(":pw@"), "no password in /ready: \(message)")
        }
    }

    @Test func retentionPrunesRedisToo() async throws {
        let redis = try RedisServerProcess()
        try await withHarness { harness in
            try harness.write("planter.yaml", "history: {runs: 2}\n")
            let server = try await harness.start(environment: ["REDIS_URL": redis.url()], arguments: ["--config", harness.path("planter.yaml")])
            let runIds = try await HistoryTests.postRevisions(server, 4)
            // A fresh Planter on the same Redis reads only Redis's copy.
            let reader = try await harness.start(root: "reader", environment: ["REDIS_URL": redis.url()])
            try await HistoryTests.expectNewestTwoKept(reader, runIds: runIds)
        }
    }

    @Test func refusesTLSAndBadURLsAndWarnsAboutEviction() async throws {
        try await withHarness { harness in
            let tls = try await harness.startupFailure(environment: ["REDIS_URL": "rediss://:secret@cache:6380"])
            #expect(tls.contains("TLS") && tls.contains("hiredis 0.14") && !tls.contains("secret"), "\(tls)")
            let bad = try await harness.startupFailure(environment: ["REDIS_URL": "redis://cache:99999"])
            #expect(bad.contains("REDIS_URL") && bad.contains("99999"), "\(bad)")
            let lease = try await harness.startupFailure(environment: ["PLANTER_LEASE_TTL": "10s"])
            #expect(lease.contains("PLANTER_LEASE_TTL needs REDIS_URL"), "\(lease)")
        }
        let redis = try RedisServerProcess(arguments: ["--maxmemory-policy", "allkeys-lru"])
        try await withHarness { harness in
            let server = try await harness.start(environment: ["REDIS_URL": redis.url()])
            #expect(server.log().contains("maxmemory-policy allkeys-lru"), "\(server.log())")
        }
    }
}
