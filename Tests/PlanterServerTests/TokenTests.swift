import Foundation
import PlanterJSON
import Testing

/// PLANTER_TOKENS_FILE on the real server: each team's token limited to its namespaces and
/// role, who triggered each run recorded (and kept across a restart), tokens never logged,
/// and a bad file refused at start with the pointer of the problem.
@Suite struct TokenTests {
    static let tokens = """
        ops-0123456789abcdef:
          name: ops
          namespaces: "*"
          role: admin
        alice-0123456789abcdef:
          name: alice
          namespaces: [team-a]
          role: write
        rita-0123456789abcdef:
          name: rita
          namespaces: [team-a, team-b]
          role: read
        """

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)-0123456789abcdef")] }

    @Test func eachTokenHasItsNamespacesAndRoleAndRunsRecordWhoTriggeredThem() async throws {
        try await withHarness { harness in
            try harness.write("tokens.yaml", Self.tokens)
            let environment = ["PLANTER_TOKENS_FILE": harness.path("tokens.yaml")]
            let server = try await harness.start(environment: environment)
            let plan = manifest(recordingPhase("a1", log: harness.path("a.log")))
            let alice = Self.bearer("alice"), rita = Self.bearer("rita"), ops = Self.bearer("ops")

            let posted = try await server.post("/namespaces/team-a/plan?wait=true", plan, headers: alice)
            #expect(posted.status == 200, "\(posted)")
            let answer = try posted.json()
            #expect(answer["triggeredBy"]?.stringValue == "alice", "\(answer)")
            let runId = try #require(answer["runId"]?.stringValue)
            let run = try await server.get("/namespaces/team-a/runs/\(runId)", headers: rita).json()
            #expect(run["triggeredBy"]?.stringValue == "alice", "\(run)")
            let runs = try await server.get("/namespaces/team-a/runs", headers: rita).json()
            #expect(runs["runs"]?.arrayValue?.first?["triggeredBy"]?.stringValue == "alice", "\(runs)")

            // Another namespace (existing or not, the root's `default` too) is 403 for alice.
            #expect(try await server.post("/namespaces/team-b/plan", plan, headers: alice).status == 403)
            #expect(try await server.get("/namespaces/team-b/state", headers: alice).status == 403)
            let root = try await server.get("/state", headers: alice)
            #expect(root.status == 403 && root.errorMessage.contains("no access to the namespace \"default\""), "\(root)")
            // read: every GET and POST /diff, but no plan, apply, rerun, cancel or STOP.
            #expect(try await server.get("/namespaces/team-a/state", headers: rita).status == 200)
            #expect(try await server.post("/namespaces/team-a/diff", plan, headers: rita).status == 200)
            for path in ["/namespaces/team-a/plan", "/namespaces/team-a/apply", "/namespaces/team-a/phases/a1/run",
                         "/namespaces/team-a/runs/\(runId)/cancel", "/STOP"] {
                let refused = try await server.post(path, plan, headers: rita)
                #expect(refused.status == 403, "\(path): \(refused)")
                #expect(refused.errorMessage.contains("role read"), "\(path): \(refused)")
            }
            // STOP stops every namespace: write is not enough.
            #expect(try await server.post("/STOP", nil, headers: alice).status == 403)
            #expect(try await server.get("/namespaces/team-a/state").status == 401)
            #expect(try await server.get("/namespaces/team-a/state", headers: [("Authorization", "Bearer alice")]).status == 401)
            #expect(try await server.get("/health").status == 200)
            // GET /namespaces lists what the token may see.
            let seen = try await server.get("/namespaces", headers: alice).json()["namespaces"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(seen == ["team-a"])
            #expect(try await server.post("/plan?wait=true", plan, headers: ops).json()["triggeredBy"]?.stringValue == "ops")

            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: 30) == 0, "\(server.log())")
            for token in ["ops", "alice", "rita"] { #expect(!server.log().contains("\(token)-0123456789abcdef"), "\(token)'s token is in the log") }
            let again = try await harness.start(environment: environment)
            #expect(try await again.get("/namespaces/team-a/runs/\(runId)", headers: alice).json()["triggeredBy"]?.stringValue == "alice")
        }
    }

    @Test func aBadTokensFileStopsTheStartWithThePointerAndNotTheToken() async throws {
        try await withHarness { harness in
            try harness.write("tokens.yaml", """
                secret-0123456789abcdef:
                  name: team
                  namespaces: [Team_A]
                  role: writer
                """)
            let text = try await harness.startupFailure(environment: ["PLANTER_TOKENS_FILE": harness.path("tokens.yaml")])
            #expect(text.contains("exited (2)"), "\(text)")
            #expect(text.contains("/<token 1>/role: role must be read, write or admin, got \"writer\""), "\(text)")
            #expect(text.contains("/<token 1>/namespaces/0"), "\(text)")
            #expect(!text.contains("secret-0123456789abcdef"), "\(text)")
        }
    }
}
