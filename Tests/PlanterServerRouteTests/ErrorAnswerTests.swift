import Hummingbird
import HummingbirdTesting
import PlanterJSON
import Testing

@testable import PlanterServer

/// Bad requests in-process: 413 over PLANTER_MAX_BODY, 415 for other content types, 400
/// with line and column for malformed bodies and with JSON pointers for invalid manifests,
/// and none of them changes the state.
@Suite struct ErrorAnswerTests {
    static let limit = 2048

    /// More than `limit` bytes of a valid manifest.
    static var big: String { "[" + (0..<40).map { noopPhase("phase-number-\($0)") }.joined(separator: ",") + "]" }

    @Test func bodiesOverTheLimitAre413() async throws {
        try await withApplication({ $0.maxBodyBytes = Self.limit }) { client in
            #expect(Self.big.utf8.count > Self.limit)
            // (The router test client always sends a Content-Length; a chunked body over the limit
            // is a process-level test, over a socket.)
            for path in ["/plan", "/plan?dryRun=true", "/plan?stage=true", "/diff"] {
                let reply = expectError(try await client.send(.post, path, body: Self.big), 413, "payloadTooLarge")
                #expect(reply.errorMessage.contains("\(Self.limit)"), "\(reply)")
            }
            // Exactly at the limit is read.
            let fits = "[" + noopPhase("a") + "]"
            let padded = fits + String(repeating: " ", count: Self.limit - fits.utf8.count)
            #expect(try await client.send(.post, "/plan?dryRun=true", body: padded).status == 200)
            #expect(try await client.send(.post, "/plan?dryRun=true", body: padded + " ").status == 413)
        }
    }

    @Test func otherContentTypesAre415AndNameWhatIsAccepted() async throws {
        try await withApplication { client in
            for type in ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/jsonx"] {
                let reply = expectError(try await client.send(.post, "/plan", body: "[]", contentType: type), 415, "unsupportedMediaType")
                #expect(reply.errorMessage.contains(type), "\(reply)")
                #expect(reply.header(.accept)?.contains("application/json") == true, "\(reply)")
                #expect(reply.header(.accept)?.contains("application/yaml") == true, "\(reply)")
                expectError(try await client.send(.post, "/diff", body: "[]", contentType: type), 415, "unsupportedMediaType")
            }
            expectError(try await client.send(.post, "/plan", body: "[]", contentType: nil), 415, "unsupportedMediaType")
            // Parameters and case do not matter for the accepted ones.
            for type in ["application/json; charset=utf-8", "Application/JSON", "application/vnd.phase-manifest+json",
                         "application/yaml", "text/yaml"] {
                let reply = try await client.send(.post, "/plan?dryRun=true", body: "[" + noopPhase("a") + "]", contentType: type)
                #expect(reply.status == 200, "\(type): \(reply)")
            }
        }
    }

    @Test func malformedBodiesAre400WithLineAndColumn() async throws {
        try await withApplication { client in
            let json = "[\n  {\"kind\": \"Phase\",\n   \"id\": \"a\" \"spec\": {}}\n]\n"
            for path in ["/plan", "/diff"] {
                let reply = expectError(try await client.send(.post, path, body: json), 400, "malformed")
                #expect(reply.errorMessage.contains("line 3"), "\(reply)")
                #expect(reply.errorMessage.contains("column 14"), "\(reply)")
            }
            let truncated = expectError(try await client.send(.post, "/plan", body: "[{\"kind\": \"Phase\""), 400, "malformed")
            #expect(truncated.errorMessage.contains("line 1"), "\(truncated)")
            expectError(try await client.send(.post, "/plan", body: "- kind: [unclosed", contentType: "application/yaml"), 400, "malformed")
            expectError(try await client.send(.post, "/plan", body: ""), 400, "malformed")
        }
    }

    @Test func invalidManifestsAre400WithAPointerPerProblem() async throws {
        try await withApplication { client in
            let invalid = """
                [
                  \(noopPhase("preflight")),
                  {"kind": "Phase", "id": "deploy", "spec": {"waitFor": {"phases": ["prefligth"]}, "retry": {"maxAttempts": "many"}}},
                  {"kind": "Task", "id": "deploy", "spec": {"selector": {"matchLabels": {"executor": "shel"}}, "x-timeout": "soon"}}
                ]
                """
            let expected = ["/1/spec/waitFor/phases/0", "/1/spec/retry/maxAttempts", "/2/kind", "/2/id", "/2/spec/x-timeout",
                            "/2/spec/selector/matchLabels/executor"]
            for path in ["/plan", "/plan?dryRun=true", "/plan?stage=true", "/diff"] {
                let reply = expectError(try await client.send(.post, path, body: invalid), 400, "invalid")
                for pointer in expected {
                    #expect(reply.errorPaths.contains(pointer), "\(path): \(pointer) missing from \(reply)")
                }
                #expect(reply.errorMessage.contains("6 errors"), "\(path): \(reply)")
                let details = reply.error?["details"]?.arrayValue ?? []
                #expect(details.allSatisfy { $0["message"]?.stringValue?.isEmpty == false }, "\(reply)")
            }
            // A document that is not a manifest at all.
            let object = expectError(try await client.send(.post, "/plan", body: #"{"kind": "Phase"}"#), 400, "invalid")
            #expect(!object.errorPaths.isEmpty, "\(object)")
        }
    }

    @Test func badQueryValuesAre400NamingTheParameter() async throws {
        try await withApplication { client in
            let reply = expectError(try await client.send(.post, "/plan?wait=maybe", body: "[" + noopPhase("a") + "]"), 400, "invalid")
            #expect(reply.errorMessage.contains("wait"), "\(reply)")
            #expect(reply.errorMessage.contains("maybe"), "\(reply)")
            #expect(reply.errorPaths == ["?wait"], "\(reply)")
            let limit = expectError(try await client.send(.get, "/logs?limit=-3"), 400, "invalid")
            #expect(limit.errorMessage.contains("limit"), "\(limit)")
            let level = expectError(try await client.send(.get, "/logs?level=loud"), 400, "invalid")
            #expect(level.errorMessage.contains("level"), "\(level)")
        }
    }

    @Test func refusedRequestsChangeNothing() async throws {
        try await withApplication({ $0.maxBodyBytes = Self.limit }) { client in
            let applied = try await client.send(.post, "/plan?wait=true", body: "[" + noopPhase("keep") + "]")
            #expect(applied.status == 200, "\(applied)")
            let stateBefore = try await client.send(.get, "/state").json()
            let runsBefore = try await client.send(.get, "/runs").json()

            let other = "[" + noopPhase("other") + "]"
            _ = try await client.send(.post, "/plan", body: Self.big)
            _ = try await client.send(.post, "/plan", body: other, contentType: "text/plain")
            _ = try await client.send(.post, "/plan", body: "[{")
            _ = try await client.send(.post, "/plan", body: #"[{"kind": "Task", "id": "other"}]"#)
            _ = try await client.send(.post, "/plan?wait=maybe", body: other)
            _ = try await client.send(.put, "/plan", body: other)
            _ = try await client.send(.post, "/plans", body: other)

            #expect(try await client.send(.get, "/state").json() == stateBefore)
            #expect(try await client.send(.get, "/runs").json() == runsBefore)
        }
    }
}
