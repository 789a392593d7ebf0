import Hummingbird
import HummingbirdTesting
import PlanterJSON
import Testing

@testable import PlanterServer

/// PLANTER_TOKEN in-process: 401 without or with a wrong token, /health and /ready public,
/// `Bearer <token>` accepted, the comparison independent of where the bytes differ.
@Suite struct AuthTests {
    static let token = "s3cret-token"

    @Test func healthAndReadyAnswerWithoutAToken() async throws {
        try await withApplication({ $0.token = Self.token }) { client in
            #expect(try await client.send(.get, "/health").status == 200)
            #expect(try await client.send(.get, "/ready").status == 200)
            // Public means those two only: a wrong method on them still needs the token.
            expectError(try await client.send(.post, "/health", body: "[]"), 401, "unauthorized")
        }
    }

    @Test func everythingElseIs401WithoutTheToken() async throws {
        try await withApplication({ $0.token = Self.token }) { client in
            for (path, methods) in RouteTableTests.table where path != "/health" && path != "/ready" {
                for method in methods {
                    let reply = try await client.send(method, path, body: method == .post ? "[]" : nil)
                    expectError(reply, 401, "unauthorized")
                    #expect(reply.header(.wwwAuthenticate) == "Bearer", "\(method) \(path): \(reply)")
                }
            }
            // Unknown paths too: without the token the route table is not disclosed.
            expectError(try await client.send(.get, "/no/such/route"), 401, "unauthorized")
            expectError(try await client.send(.delete, "/plan"), 401, "unauthorized")
        }
    }

    @Test func wrongTokensAreRefusedAndTheRightOneIsAccepted() async throws {
        try await withApplication({ $0.token = Self.token }) { client in
            // (No trailing-space case: HTTP drops whitespace around a field value before the server sees it.)
            let wrong = ["Bearer wrong", "Bearer s3cret-tokem", "Bearer s3cret-token2", "Bearer s3cret-toke", "Bearer  s3cret-token",
                         "s3cret-token", "Basic s3cret-token", "Bearer", ""]
            for header in wrong {
                let reply = try await client.send(.get, "/state", headers: [.authorization: header])
                #expect(reply.status == 401, "\(header): \(reply)")
                expectError(reply, 401, "unauthorized")
            }
            let refused = try await client.send(.post, "/plan", body: "[" + noopPhase("a") + "]")
            expectError(refused, 401, "unauthorized")

            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            let state = try await client.send(.get, "/state", headers: auth)
            #expect(state.status == 200, "\(state)")
            #expect(try state.json()["planId"]?.isNull == true, "the refused plan was not stored")
            let plan = try await client.send(.post, "/plan?wait=true", body: "[" + noopPhase("a") + "]", headers: auth)
            #expect(plan.status == 200, "\(plan)")
            #expect(try await client.send(.get, "/state", headers: auth).json()["phases"]?.arrayValue?.count == 1)
            // With the token, the table answers as without auth.
            expectError(try await client.send(.get, "/no/such/route", headers: auth), 404, "notFound")
        }
    }

    @Test func withoutATokenNothingNeedsOne() async throws {
        try await withApplication { client in
            let plain = try await client.send(.get, "/state")
            #expect(plain.status == 200, "\(plain)")
            let withHeader = try await client.send(.get, "/state", headers: [.authorization: "Bearer anything"])
            #expect(withHeader.status == 200, "\(withHeader)")
        }
    }

    /// The comparison reads every byte of both whatever the first difference (so timing does
    /// not tell how much of a guess was right), and still only equal bytes of equal length match.
    @Test func tokenComparisonIsExactOverEveryByte() {
        func equal(_ a: String, _ b: String) -> Bool { AuthMiddleware.constantTimeEqual(Array(a.utf8), Array(b.utf8)) }
        #expect(equal("Bearer abc", "Bearer abc"))
        #expect(equal("", ""))
        #expect(!equal("Bearer abc", "Bearer abd"), "last byte differs")
        #expect(!equal("Bearer abc", "Xearer abc"), "first byte differs")
        #expect(!equal("Bearer abc", "Bearer ab"), "a prefix is not the token")
        #expect(!equal("Bearer ab", "Bearer abc"))
        #expect(!equal("Bearer abc", "Bearer abc\0"), "padding with zero bytes is not the token")
        #expect(!equal("", "Bearer abc"))
        // Zero bytes past the end compare equal to the missing ones, and 256 truncates to 0 in
        // a UInt8: only the length check tells these apart.
        #expect(!equal(String(repeating: "\0", count: 256), ""))
    }
}
