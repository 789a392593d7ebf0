import Foundation
import PlanterJSON
import Testing

/// Open values over HTTP: warnings in the answer by default, a 400 with `strict=true` or
/// `PLANTER_STRICT=1`, and YAML errors that keep their pointer.
@Suite struct StrictModeTests {
    let open = #"[{"kind":"Phase","id":"a","spec":{"instanceMode":"parallel","onFailure":{"action":"log"}}}]"#

    @Test func openValuesWarnByDefaultAndFailInStrictMode() async throws {
        try await withServer { server, _ in
            let lenient = try await server.plan(open, "dryRun=true")
            let warnings = lenient["warnings"]?.arrayValue ?? []
            #expect(warnings.contains { $0["path"] == "/0/spec/instanceMode" }, "\(lenient.serialized)")
            #expect(warnings.contains { $0["path"] == "/0/spec/onFailure/action" }, "\(lenient.serialized)")

            for path in ["/plan?dryRun=true&strict=true", "/diff?strict=true"] {
                let strict = try await server.post(path, open)
                #expect(strict.status == 400, "\(path): \(strict)")
                let details = try strict.json()["error"]?["details"]?.arrayValue ?? []
                #expect(details.contains { $0["path"] == "/0/spec/instanceMode" && $0["severity"] == "error" }, "\(strict)")
            }
            let yaml = try await server.post("/plan?dryRun=true", "- kind: Phase\n  id: a\n  spec: {x-v: .inf}\n", contentType: "application/yaml")
            #expect(yaml.status == 400, "\(yaml)")
            #expect(try yaml.json()["error"]?["details"]?.arrayValue?.first?["path"] == "/0/spec/x-v", "\(yaml)")
        }
        try await withServer(environment: ["PLANTER_STRICT": "1"]) { server, _ in
            let refused = try await server.post("/plan?dryRun=true", open)
            #expect(refused.status == 400, "\(refused)")
        }
    }

    @Test func theBearerSchemeIsCaseInsensitive() async throws {
        try await withServer(environment: ["PLANTER_TOKEN": "s3cret"]) { server, _ in
            for (header, status) in [("bearer s3cret", 200), ("BEARER s3cret", 200), ("bearer S3cret", 401), ("Basic s3cret", 401)] {
                let answer = try await server.get("/state", headers: [("Authorization", header)])
                #expect(answer.status == status, "\(header): \(answer)")
            }
        }
    }
}
