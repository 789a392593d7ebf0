import Foundation
import PlanterJSON
import PlanterTestSupport
import Testing

/// Redis down at start, or lost mid-run: a lone Planter keeps serving and running on the
/// embedded store, `/ready` says Redis is down, and the writes it buffered reach Redis once
/// it is back (a fresh Planter on Redis then sees the run).
@Suite(.serialized) struct RedisFaultTests {
    static func redisCheck(_ server: ServerProcess) async throws -> JSON? {
        let ready = try await server.get("/ready")
        return try ready.json()["checks"]?.arrayValue?.first { $0["name"] == "redis" }
    }

    @Test func redisLostMidRunThenBackGetsTheBufferedWrites() async throws {
        let redis = try RedisServerProcess()
        try await withHarness { harness in
            let server = try await harness.start(environment: ["REDIS_URL": redis.url()])
            let phases = (0..<4).map { shellPhase("s\($0)", "sleep 0.5; echo done-\($0)", waitFor: $0 == 0 ? [] : ["s\($0 - 1)"]) }
            let runId = try #require(try await server.plan(manifest(phases))["runId"]?.stringValue)
            try await Task.sleep(for: .milliseconds(300))
            redis.stop()
            let run = try await server.waitForRun(runId, timeout: 30)
            #expect(run.statuses == ["s0": "succeeded", "s1": "succeeded", "s2": "succeeded", "s3": "succeeded"], "\(run.serialized)")
            // Served from the embedded store meanwhile, and /ready says why.
            #expect(try await server.json("/runs")["runs"]?.arrayValue?.first?["runId"]?.stringValue == runId)
            #expect((try await server.json("/logs?runId=\(runId)"))["count"]?.intValue ?? 0 > 8)
            let down = await eventually(within: 5) { (try? await Self.redisCheck(server))?["ok"] == false }
            let check = try await Self.redisCheck(server)
            #expect(down, "\(check?.serialized ?? "no redis check")")
            #expect(check?["fatal"] == false, "a lone Planter stays ready")
            #expect(try await server.get("/ready").status == 200)

            try redis.start()  // empty: it saved nothing
            let back = await eventually(within: 15) { (try? await Self.redisCheck(server))?["ok"] == true }
            let afterCheck = try? await Self.redisCheck(server)
            #expect(back, "\(afterCheck?.serialized ?? "")")
            let reader = try await harness.start(root: "reader", environment: ["REDIS_URL": redis.url()])
            let seen = await eventually(within: 10) {
                (try? await reader.json("/runs/\(runId)"))?.statuses["s3"] == "succeeded"
            }
            #expect(seen, "the run's end, written while Redis was away, reached it")
            let events = try await reader.json("/logs?runId=\(runId)")["events"]?.arrayValue ?? []
            #expect(events.contains { ($0["message"]?.stringValue ?? "").contains("done-3") }, "\(events.count) events")
        }
    }

    @Test func redisDownAtStartThenUp() async throws {
        let redis = try RedisServerProcess(started: false)
        try await withHarness { harness in
            let server = try await harness.start(environment: ["REDIS_URL": redis.url()])
            #expect(server.log().contains("Redis is unreachable"), "\(server.log())")
            let answer = try await server.plan(manifest(shellPhase("a", "echo offline")), "wait=true")
            let runId = try #require(answer["runId"]?.stringValue)
            #expect(try await server.json("/runs/\(runId)").statuses == ["a": "succeeded"])
            #expect(try await Self.redisCheck(server)?["ok"] == false)
            try redis.start()
            let back = await eventually(within: 15) { (try? await Self.redisCheck(server))?["ok"] == true }
            #expect(back)
            let reader = try await harness.start(root: "reader", environment: ["REDIS_URL": redis.url()])
            let seen = await eventually(within: 10) { (try? await reader.json("/runs/\(runId)"))?.statuses == ["a": "succeeded"] }
            #expect(seen, "the run made while Redis was down reached it")
            #expect(try await reader.json("/plans")["plans"]?.arrayValue?.count == 1)
        }
    }
}
