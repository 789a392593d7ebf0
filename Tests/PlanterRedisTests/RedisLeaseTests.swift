import Foundation
import PlanterRedis
import PlanterStore
import PlanterTestSupport
import Testing

/// The namespace lease and its fencing token, on a real redis-server.
@Suite(.serialized) struct RedisLeaseTests {
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func oneHolderAtATimeAndTheTokenGrowsOnEachTakeover() throws {
        let redis = try RedisServerProcess()
        let url = try RedisURL.parse(redis.url())
        let first = RedisLease(url: url, namespace: "team", owner: "first", ttl: .seconds(1))
        #expect(Self.eventually(3) { first.token != nil })
        let firstToken = try #require(first.token)
        let second = RedisLease(url: url, namespace: "team", owner: "second", ttl: .seconds(1))
        defer { second.close() }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(first.token == firstToken, "renewed: still the first's")
        #expect(second.token == nil, "the standby waits")
        // A crash: no more renewals, no release. The standby takes over once the TTL lapses.
        let crashed = Date()
        first.close(releasing: false)
        #expect(Self.eventually(3) { second.token != nil })
        let waited = Date().timeIntervalSince(crashed)
        #expect(waited > 0.4, "not before the TTL ran out (\(waited) s)")
        #expect(second.token == firstToken + 1)
    }

    @Test func aClosedLeaseIsFreeAtOnce() throws {
        let redis = try RedisServerProcess()
        let url = try RedisURL.parse(redis.url())
        let first = RedisLease(url: url, namespace: "n", owner: "a", ttl: .seconds(30))
        #expect(Self.eventually(3) { first.token != nil })
        let second = RedisLease(url: url, namespace: "n", owner: "b", ttl: .seconds(30))
        defer { second.close() }
        first.close()
        #expect(Self.eventually(10) { second.token != nil }, "released: no 30 s wait")
    }

    @Test func aHolderCutOffFromRedisStopsStartingPhasesWellBeforeTheTTL() throws {
        let redis = try RedisServerProcess()
        let lease = RedisLease(url: try RedisURL.parse(redis.url()), namespace: "n", owner: "a", ttl: .seconds(2))
        defer { lease.close() }
        #expect(Self.eventually(3) { lease.mayStartPhases })
        let lost = Date()
        redis.stop()
        #expect(Self.eventually(3) { !lease.mayStartPhases })
        let after = Date().timeIntervalSince(lost)
        #expect(after <= 1.2, "at most half the TTL after the last renewal (\(after) s)")
        #expect(lease.problem != nil)
    }

    @Test func writesWithAnOldFencingTokenAreRefused() async throws {
        let redis = try RedisServerProcess()
        let url = try RedisURL.parse(redis.url())
        let lease = RedisLease(url: url, namespace: "n", owner: "a", ttl: .seconds(5))
        defer { lease.close() }
        #expect(Self.eventually(3) { lease.token != nil })
        let token = try #require(lease.token)
        let current = RedisHistory(url: url, namespace: "n", writerId: "w1")
        current.fence(token)
        current.enqueue(.plan(PlanRow(planId: "p-current", submittedAt: 1, phaseCount: 0, manifest: Array("[]".utf8))))
        await current.flush()
        #expect(current.problem == nil)
        let stale = RedisHistory(url: url, namespace: "n", writerId: "w2")
        stale.fence(token - 1)
        stale.enqueue(.plan(PlanRow(planId: "p-stale", submittedAt: 2, phaseCount: 0, manifest: Array("[]".utf8))))
        await stale.flush()
        #expect(stale.problem?.contains("lease was taken over") == true, "\(stale.problem ?? "no problem")")
        let plans = try await current.plans(PageRequest(limit: 10)).rows.map(\.row.planId)
        #expect(plans == ["p-current"], "the stale write did not land")
        await current.close()
        await stale.close()
    }
}
