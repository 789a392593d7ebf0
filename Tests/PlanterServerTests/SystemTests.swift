import Foundation
import NIOHTTP1
import PlanterDocument
import PlanterJSON
import Testing

/// /health, /ready, /metrics, /openapi.yaml, PLANTER_PREFIX, error answers, token auth.
@Suite struct SystemTests {
    @Test func healthAndReady() async throws {
        try await withServer { server, _ in
            let health = try await server.get("/health")
            #expect(health.status == 200)
            #expect(health.header("content-type") == "application/json")
            let body = try health.json()
            #expect(body["status"] == "ok")
            #expect(body["version"]?.stringValue?.isEmpty == false)
            #expect((body["uptimeSeconds"]?.intValue ?? -1) >= 0)

            let ready = try await server.get("/ready")
            #expect(ready.status == 200, "\(ready)")
            let checks = try ready.json()
            #expect(checks["status"] == "ready")
            let names = (checks["checks"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(names == ["stateFolder", "history", "plugins", "accepting"], "\(ready)")
            // Plugins that fail to load are listed but not fatal (a build folder may hold foreign .so files).
            #expect(checks["checks"]?.arrayValue?.filter { $0["fatal"] != false }.allSatisfy { $0["ok"] == true } == true, "\(ready)")
            #expect(checks["checks"]?.arrayValue?.first { $0["name"] == "plugins" }?["fatal"] == false)
            let plugins = checks["checks"]?.arrayValue?.first { $0["name"] == "plugins" }
            #expect(plugins?["loaded"]?.arrayValue?.contains("shell") == true, "\(ready)")
        }
    }

    @Test func metricsCountWhatRequestsDid() async throws {
        try await withServer { server, harness in
            let before = try await server.get("/metrics")
            #expect(before.status == 200)
            #expect(before.header("content-type")?.hasPrefix("text/plain") == true)
            let text0 = before.text
            let health0 = metric(text0, "planter_http_requests_total", ["route": "/health", "method": "GET", "status": "200"])

            for _ in 0..<3 { _ = try await server.get("/health") }
            _ = try await server.get("/no/such/route")
            _ = try await server.request(.DELETE, "/plan")
            let log = harness.path("runs.log")
            let plan = manifest(recordingPhase("a", log: log), shellPhase("b", "exit 4", waitFor: ["a"]))
            try await server.plan(plan, "dryRun=true")
            try await server.plan(plan, "dryRun=true")
            try await server.plan(plan, "wait=true")
            try await server.plan(plan, "stage=true")

            let text = try await server.get("/metrics").text
            #expect(metric(text, "planter_http_requests_total", ["route": "/health", "method": "GET", "status": "200"]) == health0 + 3, "\(text)")
            #expect(metric(text, "planter_http_requests_total", ["route": "unmatched", "method": "GET", "status": "404"]) == 1, "\(text)")
            #expect(metric(text, "planter_http_requests_total", ["route": "/plan", "method": "DELETE", "status": "405"]) == 1)
            #expect(metric(text, "planter_http_requests_total", ["route": "/plan", "method": "POST", "status": "200"]) == 4)
            #expect(metric(text, "planter_plans_submitted_total", ["mode": "dryRun"]) == 2)
            #expect(metric(text, "planter_plans_submitted_total", ["mode": "run"]) == 1)
            #expect(metric(text, "planter_plans_submitted_total", ["mode": "stage"]) == 1)
            #expect(metric(text, "planter_runs_total", ["result": "failed"]) == 1, "\(text)")
            #expect(metric(text, "planter_runs_total", ["result": "succeeded"]) == 0)
            #expect(metric(text, "planter_phases_total", ["executor": "shell", "status": "succeeded"]) == 1)
            #expect(metric(text, "planter_phases_total", ["executor": "shell", "status": "failed"]) == 1)
            #expect(metric(text, "planter_phase_duration_seconds_count", ["executor": "shell"]) == 2, "\(text)")
            #expect(text.contains("# TYPE planter_phase_duration_seconds histogram"))
        }
    }

    @Test func openAPIDocumentDescribesTheRoutesTheServerHas() async throws {
        try await withServer { server, _ in
            let answer = try await server.get("/openapi.yaml")
            #expect(answer.status == 200)
            #expect(answer.header("content-type") == "application/yaml")
            let text = answer.text
            #expect(text.hasPrefix("openapi: 3.1"), "\(text.prefix(200))")
            // It is YAML at all (a `: ` inside a plain scalar once broke it, and schemathesis with it).
            if case .failure(let failure) = DocumentParser.parse(text, format: .yaml) {
                Issue.record("openapi.yaml does not parse: \(failure.problems)")
            }

            // Every path and method of the document exists on the server (not a route 404, not a 405).
            var operations: [(String, String)] = []
            var path: String?
            var inPaths = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("paths:") { inPaths = true; continue }
                if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
                guard inPaths else { continue }
                if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()); continue }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("    "), !line.hasPrefix("     "), let path,
                    ["get:", "post:", "put:", "delete:", "patch:"].contains(trimmed) {
                    operations.append((String(trimmed.dropLast()).uppercased(), path))
                }
            }
            #expect(operations.count >= 17, "\(operations)")
            #expect(Set(operations.map(\.1)) == ["/plan", "/diff", "/apply", "/state", "/status", "/phases/{id}", "/phases/{id}/run", "/runs",
                                                  "/runs/{id}", "/runs/{id}/cancel", "/runs/{id}/pause", "/runs/{id}/resume", "/logs", "/health", "/ready", "/metrics",
                                                  "/STOP", "/RELOAD", "/openapi.yaml", "/plans", "/plans/{id}", "/namespaces", "/workers",
                                                  "/namespaces/{namespace}/plan", "/namespaces/{namespace}/status", "/graph.svg"])
            for (method, template) in operations where template != "/STOP" {
                let concrete = template.replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{namespace}", with: "default")
                let answer = try await server.request(.init(rawValue: method), concrete, body: method == "POST" ? "[]" : nil)
                #expect(answer.status != 405, "\(method) \(template): \(answer)")
                #expect(!(answer.status == 404 && answer.errorMessage.hasPrefix("no route")), "\(method) \(template): \(answer)")
            }
            let stop = try await server.post("/STOP")
            #expect(stop.status == 202)
        }
    }

    @Test func prefixServesEveryEndpointUnderIt() async throws {
        try await withServer(environment: ["PLANTER_PREFIX": "api/v1/"], arguments: ["--host", "0.0.0.0"]) { server, harness in
            #expect(server.url.hasSuffix("/api/v1"))
            let health = try await server.get("/health")
            #expect(health.status == 200, "\(health)")
            let bare = try await server.request(.GET, "/health", raw: true)
            #expect(bare.status == 404, "\(bare)")
            #expect(bare.errorCode == "notFound")
            let log = harness.path("runs.log")
            let answer = try await server.plan(manifest(recordingPhase("a", log: log)), "wait=true")
            #expect(answer["result"]?["status"] == "succeeded")
            #expect(try await server.json("/state")["phases"]?.ids == ["a"])
            #expect(try await server.json("/runs")["runs"]?.arrayValue?.count == 1)
            #expect(try await server.get("/openapi.yaml").status == 200)
            #expect(try await server.request(.GET, "/api/v1", raw: true).status == 404)
            #expect(try await server.request(.GET, "/api/v1x/health", raw: true).status == 404)
            // Bound beyond loopback without a token: said once at start-up.
            let warnings = server.log().components(separatedBy: "no PLANTER_TOKEN").count - 1
            #expect(warnings == 1, "\(server.log())")
        }
    }

    @Test func errorAnswersAreJSONAndChangeNothing() async throws {
        try await withServer(environment: ["PLANTER_MAX_BODY": "2048"]) { server, harness in
            let log = harness.path("runs.log")
            try await server.plan(manifest(recordingPhase("keep", log: log)), "wait=true")
            let stateBefore = try await server.json("/state")
            let runsBefore = try await server.json("/runs")
            let fileBefore = try server.readStateFile()

            func expectError(_ answer: Answer, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSON {
                #expect(answer.status == status, "\(answer)", sourceLocation: sourceLocation)
                #expect(answer.header("content-type") == "application/json", "\(answer)", sourceLocation: sourceLocation)
                let body = try answer.json()
                let error = body["error"]
                #expect(error?["code"]?.stringValue == code, "\(answer)", sourceLocation: sourceLocation)
                #expect(error?["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
                #expect(error?["details"]?.arrayValue != nil, "details is always there: \(answer)", sourceLocation: sourceLocation)
                return body
            }

            // 400 with every problem and its pointer.
            let invalid = """
                [
                  \(recordingPhase("preflight", log: log))
                  ,{"kind": "Phase", "id": "deploy", "spec": {"waitFor": {"phases": ["prefligth"]}, "retry": {"maxAttempts": "many"}}},
                  {"kind": "Task", "id": "deploy", "spec": {"selector": {"matchLabels": {"executor": "shel"}}, "x-timeout": "soon"}}
                ]
                """
            let bad = try expectError(try await server.post("/plan", invalid), 400, "invalid")
            let paths = Set((bad["error"]?["details"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue })
            #expect(paths == ["/1/spec/waitFor/phases/0", "/1/spec/retry/maxAttempts", "/2/kind", "/2/id", "/2/spec/x-timeout",
                              "/2/spec/selector/matchLabels/executor"], "\(bad.serialized)")
            #expect(bad["error"]?["message"]?.stringValue?.contains("6 errors") == true, "\(bad.serialized)")
            _ = try expectError(try await server.post("/plan?dryRun=true", invalid), 400, "invalid")
            _ = try expectError(try await server.post("/diff", invalid), 400, "invalid")
            _ = try expectError(try await server.post("/plan?stage=true", invalid), 400, "invalid")

            // Malformed JSON, with line and column.
            let malformed = try expectError(try await server.post("/plan", "[\n  {\"kind\": \"Phase\",\n   \"id\": \"a\" \"spec\": {}}\n]\n"),
                                            400, "malformed")
            #expect(malformed["error"]?["message"]?.stringValue?.contains("line 3, column 14") == true, "\(malformed.serialized)")
            _ = try expectError(try await server.post("/plan", "- kind: [unclosed", contentType: "application/yaml"), 400, "malformed")
            _ = try expectError(try await server.post("/plan", ""), 400, "malformed")
            _ = try expectError(try await server.post("/plan?wait=maybe", "[]"), 400, "invalid")

            // Unknown route, wrong method.
            let unknown = try expectError(try await server.get("/nothing/here"), 404, "notFound")
            #expect(unknown["error"]?["message"]?.stringValue?.contains("/nothing/here") == true)
            let wrong = try await server.get("/plan")
            _ = try expectError(wrong, 405, "methodNotAllowed")
            #expect(wrong.header("allow") == "POST")
            let wrongOnPattern = try await server.request(.DELETE, "/runs/x")
            _ = try expectError(wrongOnPattern, 405, "methodNotAllowed")
            #expect(wrongOnPattern.header("allow") == "GET")

            // Too large (by Content-Length) and the wrong content type.
            let big = manifest((0..<40).map { recordingPhase("p\($0)", log: log) })
            #expect(big.utf8.count > 2048)
            let tooLarge = try expectError(try await server.post("/plan", big), 413, "payloadTooLarge")
            #expect(tooLarge["error"]?["message"]?.stringValue?.contains("2048") == true)
            _ = try expectError(try await server.post("/diff", big), 413, "payloadTooLarge")
            // Without a Content-Length (chunked), the limit holds while reading.
            let lines = big.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) + "\n" }
            _ = try expectError(try await server.postChunked("/plan", lines), 413, "payloadTooLarge")
            let small = try await server.postChunked("/plan?dryRun=true", ["[", recordingPhase("x", log: log), "]"])
            #expect(small.status == 200, "a chunked body under the limit is read: \(small)")
            let plain = try await server.post("/plan", "[]", contentType: "text/plain")
            _ = try expectError(plain, 415, "unsupportedMediaType")
            #expect(plain.header("accept")?.contains("application/json") == true)
            _ = try expectError(try await server.post("/plan", "[]", contentType: nil), 415, "unsupportedMediaType")

            // None of it changed any state, in memory or on disk; and nothing ran.
            #expect(try await server.json("/state") == stateBefore)
            #expect(try await server.json("/runs") == runsBefore)
            #expect(try server.readStateFile() == fileBefore)
            #expect(harness.lines("runs.log") == ["keep"])
        }
    }

    @Test func tokenGuardsEverythingButHealthAndReady() async throws {
        try await withServer(environment: ["PLANTER_TOKEN": "s3cret-token"]) { server, harness in
            #expect(try await server.get("/health").status == 200)
            #expect(try await server.get("/ready").status == 200)

            let none = try await server.get("/state")
            #expect(none.status == 401, "\(none)")
            #expect(none.errorCode == "unauthorized")
            #expect(none.header("www-authenticate") == "Bearer")
            for header in ["Bearer wrong", "Bearer s3cret-tokem", "Bearer s3cret-token2", "Bearer s3cret-toke", "s3cret-token", "Basic s3cret-token"] {
                let answer = try await server.get("/state", headers: [("Authorization", header)])
                #expect(answer.status == 401, "\(header): \(answer)")
            }
            let log = harness.path("runs.log")
            let refused = try await server.post("/plan?wait=true", manifest(recordingPhase("a", log: log)))
            #expect(refused.status == 401)
            #expect(try await server.get("/metrics").status == 401)
            #expect(try await server.get("/openapi.yaml").status == 401)
            #expect(try await server.post("/STOP").status == 401)
            #expect(try await server.get("/no/such/route").status == 401)

            let auth = [("Authorization", "Bearer s3cret-token")]
            let state = try await server.get("/state", headers: auth)
            #expect(state.status == 200, "\(state)")
            #expect(try state.json()["planId"]?.isNull == true, "the refused plan was not stored")
            #expect(harness.lines("runs.log").isEmpty)
            let accepted = try await server.post("/plan?wait=true", manifest(recordingPhase("a", log: log)), headers: auth)
            #expect(accepted.status == 200, "\(accepted)")
            #expect(harness.lines("runs.log") == ["a"])
            #expect(server.isRunning, "the refused POST /STOP did not stop it")
        }
    }
}
