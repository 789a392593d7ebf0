import Hummingbird
import HummingbirdTesting
import PlanterJSON
import Testing

@testable import PlanterServer

/// The route table in-process: every path's methods (405 with `Allow` for the rest), unknown
/// paths as JSON 404s, and PLANTER_PREFIX.
@Suite struct RouteTableTests {
    /// Every path the API serves and the methods it takes (`x` stands in for an `:id`).
    static let table: [(path: String, methods: [HTTPRequest.Method])] = [
        ("/plan", [.post]),
        ("/diff", [.get, .post]),
        ("/apply", [.post]),
        ("/state", [.get]),
        ("/phases/x", [.get]),
        ("/phases/x/run", [.post]),
        ("/runs", [.get]),
        ("/runs/x", [.get]),
        ("/runs/x/cancel", [.post]),
        ("/logs", [.get]),
        ("/health", [.get]),
        ("/ready", [.get]),
        ("/metrics", [.get]),
        ("/STOP", [.post]),
        ("/RELOAD", [.post]),
        ("/openapi.yaml", [.get]),
        ("/namespaces", [.get]),
    ]
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]

    @Test func everyOtherMethodIsA405ThatNamesTheAllowedOnes() async throws {
        try await withApplication { client in
            for (path, allowed) in Self.table {
                let allow = allowed.map(\.rawValue).joined(separator: ", ")
                for method in Self.methods where !allowed.contains(method) {
                    let reply = try await client.send(method, path, body: method == .get ? nil : "[]")
                    expectError(reply, 405, "methodNotAllowed")
                    #expect(reply.header(.allow) == allow, "\(method) \(path): \(reply)")
                    #expect(reply.errorMessage.contains(path), "\(method) \(path): \(reply)")
                }
            }
        }
    }

    @Test func everyListedMethodReachesItsHandler() async throws {
        try await withApplication { client in
            // POST /STOP would shut the service down under the other requests; its 202 is a process test.
            for (path, allowed) in Self.table where path != "/STOP" {
                for method in allowed {
                    let reply = try await client.send(method, path, body: method == .post ? "[]" : nil)
                    #expect(reply.status != 405, "\(method) \(path): \(reply)")
                    #expect(!(reply.status == 404 && reply.errorMessage.hasPrefix("no route")), "\(method) \(path): \(reply)")
                }
            }
        }
    }

    @Test func unknownPathsAreJSON404s() async throws {
        try await withApplication { client in
            for path in ["/nothing/here", "/planz", "/runs/x/cancel/now", "/phases", "/Health", "/runs//cancel"] {
                let reply = expectError(try await client.send(.get, path), 404, "notFound")
                #expect(reply.errorMessage.contains(path), "\(path): \(reply)")
            }
            // `/` is the way to the dashboard (issue 12).
            let root = try await client.send(.get, "/")
            #expect(root.status == 302 && root.header(.location) == "/ui/", "\(root)")
            // A trailing slash is the same path.
            #expect(try await client.send(.get, "/health/").status == 200)
            // An :id is percent-decoded before the service sees it.
            let phase = expectError(try await client.send(.get, "/phases/a%20b"), 404, "notFound")
            #expect(phase.errorMessage.contains("a b"), "\(phase)")
        }
    }

    @Test func prefixServesEveryEndpointUnderItAndNothingOutside() async throws {
        try await withApplication({ $0.prefix = try! ServerSettings.normalizedPrefix("api/v1/") }) { client in
            let health = try await client.send(.get, "/api/v1/health")
            #expect(health.status == 200, "\(health)")
            #expect(try health.json()["status"] == "ok")
            #expect(try await client.send(.get, "/api/v1/state").status == 200)
            #expect(try await client.send(.get, "/api/v1/health/").status == 200)

            for outside in ["/health", "/state", "/api/v1", "/api/v1x/health", "/api/health", "/v1/health", "/ui/"] {
                expectError(try await client.send(.get, outside), 404, "notFound")
            }
            // The prefix's own `/` leads to its dashboard.
            let root = try await client.send(.get, "/api/v1/")
            #expect(root.status == 302 && root.header(.location) == "/api/v1/ui/", "\(root)")
            // The method table holds under the prefix too.
            let wrong = expectError(try await client.send(.get, "/api/v1/plan"), 405, "methodNotAllowed")
            #expect(wrong.header(.allow) == "POST")
            let plan = try await client.send(.post, "/api/v1/plan?dryRun=true", body: "[" + noopPhase("a") + "]")
            #expect(plan.status == 200, "\(plan)")
        }
    }
}
