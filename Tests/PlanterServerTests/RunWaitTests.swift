import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// GET /runs?waitAfter= (the long poll the dashboard waits for the next run with) on the real
/// server: a waiting client gets the next run as soon as it starts, only its own namespace's and
/// with its token's access; it waits out its timeout otherwise; bad parameters are 400s naming
/// them; and a client left waiting never delays a graceful shutdown.
@Suite struct RunWaitTests {
    static let plan = manifest(shellPhase("one", "echo one"))

    struct Timed {
        var answer: Answer
        var seconds: Double
        var arrived: Date
    }

    /// A GET sent now, in the background.
    static func timed(_ server: ServerProcess, _ path: String, headers: [(String, String)]) -> Task<Timed, any Error> {
        Task {
            let sent = Date()
            let answer = try await server.request(.GET, path, headers: headers, timeout: 120)
            return Timed(answer: answer, seconds: Date().timeIntervalSince(sent), arrived: Date())
        }
    }

    static func newest(_ answer: Answer) -> String? { (try? answer.json())?["runs"]?.arrayValue?.first?["runId"]?.stringValue }

    static func runId(_ answer: Answer) throws -> String {
        guard answer.status == 200, let id = try answer.json()["runId"]?.stringValue else { throw TestFailure("no run started: \(answer)") }
        return id
    }

    @Test func aWaitingClientGetsTheNextRunOfItsNamespacePromptly() async throws {
        try await withHarness { harness in
            try harness.write("tokens.yaml", TokenTests.tokens)
            let server = try await harness.start(environment: ["PLANTER_TOKENS_FILE": harness.path("tokens.yaml")])
            let ops = TokenTests.bearer("ops"), alice = TokenTests.bearer("alice")

            // No run yet: an empty waitAfter waits for the first; the timeout bounds the wait.
            let none = try await Self.timed(server, "/runs?waitAfter=&timeout=1", headers: ops).value
            #expect(none.answer.status == 200 && Self.newest(none.answer) == nil, "\(none.answer)")
            #expect(none.seconds >= 0.9 && none.seconds < 10, "waited \(none.seconds)s of a 1 s timeout")

            let first = try Self.runId(try await server.post("/plan?wait=true", Self.plan, headers: ops))
            // The newest run is not the one named: the answer comes at once.
            let stale = try await Self.timed(server, "/runs?waitAfter=r-older&timeout=60", headers: ops).value
            #expect(Self.newest(stale.answer) == first && stale.seconds < 5, "\(stale.seconds)s: \(stale.answer)")

            let waiting = Self.timed(server, "/runs?limit=1&waitAfter=\(first)&timeout=60", headers: ops)
            try await Task.sleep(for: .seconds(1))
            let rerunAt = Date()
            let second = try Self.runId(try await server.post("/phases/one/run", headers: ops))
            let next = try await waiting.value
            #expect(next.answer.status == 200 && Self.newest(next.answer) == second, "\(next.answer)")
            #expect(next.seconds >= 0.9, "it waited for the run: \(next.seconds)s")
            let delay = next.arrived.timeIntervalSince(rerunAt)
            #expect(delay < 2, "the new run arrived \(delay)s after it was started (the timeout was 60 s)")
            #expect(try await server.get("/runs/\(second)", headers: ops).status == 200)

            // Namespaces: a run of `default` does not end a wait in team-a; one of team-a does.
            let a1 = try Self.runId(try await server.post("/namespaces/team-a/plan?wait=true", Self.plan, headers: alice))
            let inTeamA = Self.timed(server, "/namespaces/team-a/runs?limit=1&waitAfter=\(a1)&timeout=60", headers: alice)
            try await Task.sleep(for: .milliseconds(500))
            _ = try Self.runId(try await server.post("/phases/one/run?wait=true", headers: ops))
            try await Task.sleep(for: .milliseconds(500))
            let teamARunAt = Date()
            let a2 = try Self.runId(try await server.post("/namespaces/team-a/phases/one/run", headers: alice))
            let inA = try await inTeamA.value
            #expect(Self.newest(inA.answer) == a2, "\(inA.answer)")
            #expect(inA.arrived >= teamARunAt, "answered before team-a's run started")

            // The same access as GET /runs: alice has no `default`, and no token is a 401.
            #expect(try await server.get("/runs?waitAfter=\(second)&timeout=1", headers: alice).status == 403)
            #expect(try await server.get("/namespaces/team-a/runs?waitAfter=\(a2)&timeout=1").status == 401)
            #expect(try await server.get("/namespaces/nowhere/runs?waitAfter=&timeout=1", headers: ops).status == 404)

            for (query, name) in [("waitAfter=a%20b", "waitAfter"), ("wait_after=a%2Fb", "wait_after"),
                                  ("waitAfter=\(String(repeating: "r", count: 201))", "waitAfter"),
                                  ("waitAfter=x&timeout=301", "timeout"), ("waitAfter=x&timeout=soon", "timeout"), ("timeout=-1", "timeout")] {
                let answer = try await server.get("/runs?\(query)", headers: ops)
                #expect(answer.status == 400 && answer.errorMessage.hasPrefix("query parameter \(name):"), "\(query): \(answer)")
                #expect(try answer.json()["error"]?["details"]?.arrayValue?.first?["path"]?.stringValue == "?\(name)", "\(query)")
            }
        }
    }

    /// SIGTERM with a client waiting (timeout 300 s) exits about as fast as without one: the
    /// wait answers when the shutdown begins, before the HTTP server waits for its requests.
    @Test func aWaitingClientDoesNotDelayTheShutdown() async throws {
        try await withHarness { harness in
            let alone = try await harness.start(root: "alone")
            try await alone.plan(Self.plan, "wait=true")
            let aloneAt = Date()
            alone.signal(SIGTERM)
            #expect(await alone.waitForExit(timeout: 60) == 0, "\(alone.log())")
            let baseline = Date().timeIntervalSince(aloneAt)

            let server = try await harness.start(root: "watched")
            let runId = try #require(try await server.plan(Self.plan, "wait=true")["runId"]?.stringValue)
            let waiting = Self.timed(server, "/runs?limit=1&waitAfter=\(runId)&timeout=300", headers: [])
            let firstRun = Self.timed(server, "/namespaces/default/runs?waitAfter=r-none-yet&timeout=300", headers: [])
            #expect(Self.newest(try await firstRun.value.answer) == runId, "a stale waitAfter answers at once")
            // The wait is in progress: it has not answered after a second.
            try await Task.sleep(for: .seconds(1))
            let signalledAt = Date()
            server.signal(SIGTERM)
            let status = await server.waitForExit(timeout: 60)
            let took = Date().timeIntervalSince(signalledAt)
            #expect(status == 0, "\(server.log())")
            let answered = try await waiting.value
            #expect(answered.answer.status == 200 && Self.newest(answered.answer) == runId, "\(answered.answer)")
            #expect(answered.arrived >= signalledAt, "the wait answered before the shutdown: \(answered.seconds)s")
            #expect(took < baseline + 2, "SIGTERM took \(took)s with a waiting client, \(baseline)s without")
        }
    }
}
