import Foundation
import Hummingbird
import HummingbirdTesting
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON
import Testing

@testable import PlanterServer

/// Namespaces in-process: the name rule, how a path splits into namespace and route, the
/// tokens file's problems, and every route under `/namespaces/<name>`.
@Suite struct NamespaceRouteTests {
    @Test func namesFollowTheDNSLabelRule() {
        for name in ["a", "team-a", "0", "a0-b1", String(repeating: "z", count: 63)] {
            #expect(NamespaceName.problem(Substring(name)) == nil, "\(name)")
        }
        for name in ["", "A", "team_a", "-a", "a-", "a.b", "é", String(repeating: "z", count: 64), "a b", "%61"] {
            let problem = NamespaceName.problem(Substring(name))
            #expect(problem?.contains("1 to 63 characters") == true, "\(name): \(problem ?? "accepted")")
        }
    }

    @Test func aPathSplitsIntoItsNamespaceAndItsRoute() {
        let table = RouteTable(prefix: "/api")
        #expect(table.locate("/api/namespaces/team-a/plan").map { [String($0.namespace ?? "-"), String($0.path)] } == ["team-a", "/plan"])
        #expect(table.locate("/api/plan").map { [String($0.namespace ?? "-"), String($0.path)] } == ["-", "/plan"])
        #expect(table.locate("/api/namespaces").map { [String($0.namespace ?? "-"), String($0.path)] } == ["-", "/namespaces"])
        #expect(table.locate("/api/namespaces/x").map { [String($0.namespace ?? "-"), String($0.path)] } == ["x", ""])
        #expect(table.locate("/plan") == nil)
    }

    @Test func everyRouteIsServedUnderANamespace() async throws {
        try await withApplication { client in
            let posted = try await client.send(.post, "/namespaces/team-a/plan?wait=true", body: "[" + noopPhase("a") + "]")
            #expect(posted.status == 200, "\(posted)")
            #expect(try posted.json()["triggeredBy"]?.stringValue == "anonymous")
            let runId = try #require(try posted.json()["runId"]?.stringValue)
            for (path, methods) in RouteTableTests.table where methods.contains(.get) {
                let real = path.replacingOccurrences(of: "/phases/x", with: "/phases/a").replacingOccurrences(of: "/runs/x", with: "/runs/\(runId)")
                let reply = try await client.send(.get, "/namespaces/team-a" + real)
                #expect(reply.status == 200, "GET /namespaces/team-a\(path): \(reply)")
            }
            let state = try await client.send(.get, "/namespaces/team-a/state").json()
            #expect(state["phases"]?.arrayValue?.count == 1)
            #expect(try await client.send(.get, "/state").json()["planId"]?.isNull == true)
            expectError(try await client.send(.get, "/namespaces/nope/phases/a"), 404, "notFound")
            expectError(try await client.send(.get, "/namespaces/No/state"), 400, "invalid")
            expectError(try await client.send(.get, "/namespaces/team-a"), 404, "notFound")
        }
    }

    @Test func planterTokenIsAnAdminOfEveryNamespace() async throws {
        try await withApplication({ $0.token = "one-token" }) { client in
            let auth: HTTPFields = [.authorization: "Bearer one-token"]
            let posted = try await client.send(.post, "/namespaces/b/plan?wait=true", body: "[" + noopPhase("a") + "]", headers: auth)
            #expect(try posted.json()["triggeredBy"]?.stringValue == "PLANTER_TOKEN", "\(posted)")
            expectError(try await client.send(.get, "/namespaces/b/state"), 401, "unauthorized")
        }
    }

    @Test func aTokensFileWithProblemsSaysWhereEachIsAndNeverQuotesTheToken() throws {
        let text = """
            good-token:
              name: a
              namespaces: "*"
              role: admin
            "bad token":
              namespaces: []
              role: 5
              colour: blue
            """
        guard case .success(let json) = DocumentParser.parse(text, format: .yaml) else { Issue.record("not YAML"); return }
        var problems = Problems()
        let grants = AccessTokens.decode(json, problems: &problems)
        #expect(grants.map(\.name) == ["a"])
        let lines = problems.all.map(\.description)
        #expect(lines.contains { $0.hasPrefix("/<token 2>: a token must be printable ASCII without spaces") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("/<token 2>: the token has no name") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("/<token 2>/role: role must be a string") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("/<token 2>/namespaces: namespaces is empty") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("/<token 2>/colour: unknown field") }, "\(lines)")
        #expect(!lines.joined().contains("bad token"), "\(lines)")
        let grant = try #require(grants.first)
        #expect(AccessTokens(grants: grants).grant(for: Array("Bearer good-token".utf8))?.name == "a")
        #expect(AccessTokens(grants: grants).grant(for: Array("Bearer good-tokeN".utf8)) == nil)
        #expect(grant.covers("anything") && grant.role == .admin)
        #expect(AccessTokens.redactingQuotes(#"the key "s3cret" is given more than once, "x"#) == #"the key "…" is given more than once, "…""#)
    }
}
