import Foundation
import PlanterJSON
import PlanterTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// PLANTER_LEASE_TTL: two real `planter serve` on one Redis take turns. The standby refuses
/// plans; when the active one is killed mid-run (SIGKILL, its phase processes left behind),
/// the standby takes the lease once it lapses, kills what the dead one left running, resumes
/// the run from Redis, and finishes it, with no phase running twice at once.
@Suite(.serialized) struct RedisLeaseTakeoverTests {
    /// Each phase writes `start <id>` and, 3 s later, `end <id>` to the timeline.
    static func timedPhase(_ id: String, _ timeline: String, waitFor: [String]) -> String {
        shellPhase(id, "echo start \(id) >> \(timeline); sleep 3; echo end \(id) >> \(timeline)", waitFor: waitFor)
    }

    @Test func theStandbyTakesOverAKilledActiveAndFinishesItsRun() async throws {
        let redis = try RedisServerProcess()
        try await withHarness { harness in
            let environment = ["REDIS_URL": redis.url(), "PLANTER_LEASE_TTL": "2s"]
            let active = try await harness.start(root: "active", environment: environment)
            #expect(await eventually(within: 5) { active.log().contains("holding the namespace's lease") }, "\(active.log())")
            let standby = try await harness.start(root: "standby", environment: environment)
            let timeline = harness.path("timeline")
            let plan = manifest(Self.timedPhase("s0", timeline, waitFor: []), Self.timedPhase("s1", timeline, waitFor: ["s0"]),
                                Self.timedPhase("s2", timeline, waitFor: ["s1"]))
            let standbyCheck = try await standby.json("/ready")["checks"]?.arrayValue?.first { $0["name"] == "lease" }
            #expect(standbyCheck?["ok"] == false && standbyCheck?["fatal"] == false, "\(standbyCheck?.serialized ?? "no lease check")")
            let refused = try await standby.post("/plan", plan)
            #expect(refused.status == 503 && refused.errorMessage.contains("standby"), "\(refused)")

            let runId = try #require(try await active.plan(plan)["runId"]?.stringValue)
            #expect(await eventually(within: 15) { harness.lines("timeline").contains("start s1") }, "\(harness.lines("timeline"))")
            active.signal(SIGKILL)
            _ = await active.waitForExit(timeout: 5)

            // The standby resumes the run and finishes it.
            var finished: JSON?
            let done = await eventually(within: 40) {
                guard let runs = try? await standby.json("/runs")["runs"]?.arrayValue, let newest = runs.first,
                    newest["trigger"] == "resume", newest["status"] == "succeeded"
                else { return false }
                finished = newest
                return true
            }
            #expect(done, "standby log:\n\(standby.log())")
            #expect(standby.log().contains("resuming interrupted run \(runId)"), "\(standby.log())")
            // s1's `sh` outlived its Planter; the standby found it by the dead one's instance token.
            #expect(standby.log().contains("killed a process left running by interrupted run \(runId)"), "\(standby.log())")
            let interrupted = try await standby.json("/runs/\(runId)")
            #expect(interrupted["status"] == "interrupted", "\(interrupted.serialized)")
            if let resumed = finished?["runId"]?.stringValue {
                let run = try await standby.json("/runs/\(resumed)")
                #expect(run.statuses == ["s0": "skipped", "s1": "succeeded", "s2": "succeeded"], "\(run.serialized)")
            }
            // Let a phase process the dead Planter left behind finish, were it still running.
            try await Task.sleep(for: .seconds(3.5))
            let lines = harness.lines("timeline")
            var open: String?
            var killed = 0
            for line in lines {
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count == 2 else { continue }
                if parts[0] == "start" {
                    if let running = open {
                        // Only the attempt the kill cut short may be open, and only its phase starts again.
                        #expect(running == parts[1] && killed == 0, "\(parts[1]) started while \(running) ran: \(lines)")
                        killed += 1
                    }
                    open = parts[1]
                } else {
                    #expect(open == parts[1], "end of \(parts[1]) while \(open ?? "nothing") ran: \(lines)")
                    open = nil
                }
            }
            #expect(open == nil, "every attempt the standby started ended: \(lines)")
            #expect(lines.filter { $0 == "end s1" }.count == 1 && lines.filter { $0 == "end s2" }.count == 1, "\(lines)")
        }
    }

    @Test func aPlanterThatShutsDownHandsTheLeaseOverAtOnce() async throws {
        let redis = try RedisServerProcess()
        try await withHarness { harness in
            let environment = ["REDIS_URL": redis.url(), "PLANTER_LEASE_TTL": "60s"]
            let active = try await harness.start(root: "active", environment: environment)
            #expect(await eventually(within: 5) { active.log().contains("holding the namespace's lease") })
            // A namespace the active one made: the standby, started after, watches its lease too.
            #expect(try await active.post("/namespaces/team-a/plan?wait=true", manifest(shellPhase("a", "true"))).status == 200)
            let standby = try await harness.start(root: "standby", environment: environment)
            let names = try await standby.json("/namespaces")
            #expect(names.serialized.contains("team-a"), "\(names.serialized)")
            active.signal(SIGTERM)
            #expect(await active.waitForExit(timeout: 20) == 0)
            let took = await eventually(within: 10) {
                let checks = (try? await standby.json("/ready"))?["checks"]?.arrayValue ?? []
                return checks.first { $0["name"] == "lease" }?["ok"] == true
            }
            #expect(took, "released on shutdown: no 60 s wait\n\(standby.log())")
            let answer = try await standby.plan(manifest(shellPhase("a", "true")), "wait=true")
            let runId = try #require(answer["runId"]?.stringValue)
            #expect(try await standby.json("/runs/\(runId)").statuses == ["a": "succeeded"], "the new holder runs plans")
        }
    }

    @Test func aHolderThatLosesRedisStartsNoNewPhaseAndGivesTheRunUp() async throws {
        let redis = try RedisServerProcess()
        try await withHarness { harness in
            let active = try await harness.start(environment: ["REDIS_URL": redis.url(), "PLANTER_LEASE_TTL": "2s"])
            #expect(await eventually(within: 5) { active.log().contains("holding the namespace's lease") })
            let timeline = harness.path("timeline")
            let plan = manifest(Self.timedPhase("s0", timeline, waitFor: []), Self.timedPhase("s1", timeline, waitFor: ["s0"]))
            let runId = try #require(try await active.plan(plan)["runId"]?.stringValue)
            #expect(await eventually(within: 10) { harness.lines("timeline").contains("start s0") })
            redis.stop()
            // s0 may finish; s1 must not start: the lease cannot be renewed.
            let run = try await active.waitForRun(runId, timeout: 20)
            #expect(run["status"] == "cancelled", "given up once the lease stayed lost for its TTL, s0 let finish: \(run.serialized)")
            #expect(harness.lines("timeline") == ["start s0", "end s0"], "\(harness.lines("timeline"))")
            let lease = try await active.json("/ready")["checks"]?.arrayValue?.first { $0["name"] == "lease" }
            #expect(lease?["ok"] == false, "\(lease?.serialized ?? "no lease check")")
            #expect(try await active.get("/runs/\(runId)").status == 200, "reads still answer (the embedded store)")
        }
    }
}
