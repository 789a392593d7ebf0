import Foundation
import Hummingbird
import Logging
import NIOCore
import PlanterJSON
import Synchronization
import Testing

@testable import PlanterServer

/// What the original Planter's clients read, and the request checks that keep the API from
/// being crashed: GET /diff with nothing staged, snake_case query names, GET /status, the
/// STOP and RELOAD bodies, parameters out of range, request ids on errors, the generic 500,
/// and the output tail bound across retries.
@Suite struct CompatibilityTests {
    @Test func diffWithNothingStagedIsAnEmptyDiff() async throws {
        try await withServer { server, harness in
            let empty = try await server.get("/diff")
            #expect(empty.status == 200, "\(empty)")
            let diff = try empty.json()
            #expect(diff["staged"]?.isNull == true, "\(diff.serialized)")
            #expect(diff["stagedPlanId"]?.isNull == true)
            #expect(diff["summary"] == ["added": 0, "removed": 0, "changed": 0, "unchanged": 0])
            for key in ["added", "removed", "changed", "unchanged"] { #expect(diff[key] == [], "\(key): \(diff.serialized)") }

            let staged = try await server.plan(manifest(recordingPhase("a", log: harness.path("runs.log"))), "stage=true")
            let stagedDiff = try await server.json("/diff")
            #expect(stagedDiff["staged"]?["planId"] == staged["planId"], "\(stagedDiff.serialized)")
            #expect(stagedDiff["staged"]?["phaseCount"] == 1)
            #expect(stagedDiff["added"] == ["a"])
        }
    }

    @Test func queryParametersAcceptSnakeCase() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let first = try await server.plan(manifest(recordingPhase("a", log: log), recordingPhase("b", log: log)), "wait=true")
            let second = try await server.plan(manifest(recordingPhase("a", log: log, mark: "A"), recordingPhase("b", log: log)), "wait=true")
            let firstRun = try #require(first["runId"]?.stringValue)
            let secondRun = try #require(second["runId"]?.stringValue)
            let secondPlan = try #require(second["planId"]?.stringValue)

            func runIds(_ query: String) async throws -> Set<String> {
                let events = try await server.json("/logs?" + query)["events"]?.arrayValue ?? []
                #expect(!events.isEmpty, "\(query)")
                return Set(events.compactMap { $0["runId"]?.stringValue })
            }
            #expect(try await runIds("run_id=\(firstRun)") == [firstRun])
            #expect(try await runIds("plan_id=\(secondPlan)") == [secondRun])
            let phaseEvents = try await server.json("/logs?phase_id=b")["events"]?.arrayValue ?? []
            #expect(!phaseEvents.isEmpty && phaseEvents.allSatisfy { $0["phaseId"] == "b" }, "\(phaseEvents)")
            // The camelCase spelling wins when both are sent.
            #expect(try await runIds("runId=\(secondRun)&run_id=\(firstRun)") == [secondRun])
            // Booleans too, and a bad value names the spelling that was sent.
            let dry = try await server.plan(manifest(recordingPhase("c", log: log)), "dry_run=true")
            #expect(dry["dryRun"] == true, "\(dry.serialized)")
            let bad = try await server.post("/phases/a/run?with_dependents=maybe")
            #expect(bad.status == 400, "\(bad)")
            #expect(try bad.json()["error"]?["details"]?.arrayValue?.first?["path"] == "?with_dependents", "\(bad)")
        }
    }

    @Test func statusAnswersTheLiveExecutionStatus() async throws {
        try await withServer { server, harness in
            let idle = try await server.json("/status")
            #expect(idle["activeRunId"]?.isNull == true, "\(idle.serialized)")
            #expect(idle["status"] == "idle")
            #expect(idle["planId"]?.isNull == true)
            #expect(idle["total"] == 0)
            #expect(idle["counts"]?["pending"] == 0 && idle["counts"]?["running"] == 0, "every status is counted")

            // `slow` runs until the test creates the go file; `after` waits for it.
            let go = harness.path("go")
            let log = harness.path("runs.log")
            let started = try await server.plan(manifest(
                shellPhase("slow", "while [ ! -e \(go) ]; do sleep 0.02; done"),
                recordingPhase("after", log: log, waitFor: ["slow"]),
                recordingPhase("quick", log: log)))
            let runId = try #require(started["runId"]?.stringValue)
            var live = JSON.null
            let sawRunning = await eventually(within: 20) {
                guard let status = try? await server.json("/status") else { return false }
                live = status
                return status["phases"]?["slow"] == "running" && status["phases"]?["quick"] == "succeeded"
            }
            #expect(sawRunning, "\(live.serialized)")
            #expect(live["activeRunId"]?.stringValue == runId)
            #expect(live["status"] == "running")
            #expect(live["planId"] == started["planId"])
            #expect(live["total"] == 3)
            #expect(live["phases"]?.objectValue?.keys == ["slow", "after", "quick"], "plan order")
            #expect(live["counts"]?["running"] == 1 && live["counts"]?["succeeded"] == 1, "\(live.serialized)")
            #expect(live["phases"]?["after"] != "succeeded")

            try harness.write("go", "")
            _ = try await server.waitForRun(runId)
            let done = try await server.json("/status")
            #expect(done["activeRunId"]?.isNull == true)
            #expect(done["status"] == "idle")
            #expect(done["counts"]?["succeeded"] == 3, "\(done.serialized)")
            #expect(done["phases"] == ["slow": "succeeded", "after": "succeeded", "quick": "succeeded"])
        }
    }

    @Test func reloadWithoutStateFileAnswersNoState() async throws {
        try await withServer { server, harness in
            #expect(!FileManager.default.fileExists(atPath: server.stateFile))
            let none = try await server.post("/RELOAD")
            #expect(none.status == 200, "\(none)")
            let noState = try none.json()
            #expect(noState["status"] == "no_state", "\(noState.serialized)")
            #expect(noState["reloaded"] == false)

            try await server.plan(manifest(recordingPhase("a", log: harness.path("runs.log"))), "wait=true")
            let reload = try await server.post("/RELOAD")
            #expect(reload.status == 200, "\(reload)")
            let reloaded = try reload.json()
            #expect(reloaded["status"] == "reloaded", "\(reloaded.serialized)")
            #expect(reloaded["reloaded"] == true)
            #expect(reloaded["phases"] == 1)
        }
    }

    @Test func stopAnswersStopping() async throws {
        try await withServer { server, _ in
            let stop = try await server.post("/STOP")
            #expect(stop.status == 202, "\(stop)")
            let body = try stop.json()
            #expect(body["status"] == "stopping", "\(body.serialized)")
            #expect(body["stopping"] == true)
            #expect(await server.waitForExit(timeout: 30) == 0, "\(server.log())")
        }
    }

    @Test func numbersAndTimesOutOfRangeAre400sNamingTheRange() async throws {
        try await withServer { server, _ in
            for (query, parameter, range) in [
                ("limit=100001", "limit", "0 to 100000"),
                ("limit=-1", "limit", "0 to 100000"),
                ("limit=99999999999999999999999", "limit", "0 to 100000"),
                ("limit=ten", "limit", "0 to 100000"),
                ("limit=", "limit", "0 to 100000"),
                ("since=0001-01-01T00:00:00Z", "since", "1678-01-01T00:00:00Z to 2261-12-31T23:59:59Z"),
                ("since=9999-12-31T23:59:59Z", "since", "1678-01-01T00:00:00Z to 2261-12-31T23:59:59Z"),
            ] {
                let answer = try await server.get("/logs?" + query)
                #expect(answer.status == 400, "\(query): \(answer)")
                #expect(answer.errorCode == "invalid", "\(query): \(answer)")
                #expect(answer.errorMessage.contains(parameter) && answer.errorMessage.contains(range), "\(query): \(answer)")
                #expect(try answer.json()["error"]?["details"]?.arrayValue?.first?["path"]?.stringValue == "?" + parameter, "\(query)")
            }
            // Empty is no value at all for a number, a time or a level.
            for query in ["since=", "level=", "level=loud"] {
                let answer = try await server.get("/logs?" + query)
                #expect(answer.status == 400 && answer.errorMessage.contains(query.prefix { $0 != "=" }), "\(query): \(answer)")
            }
            #expect(try await server.get("/logs?level=WARN&runId=").status == 200, "levels in any case; an empty filter is no filter")
            #expect(try await server.get("/logs?limit=100000&since=2261-12-31T23:59:59Z").status == 200)
            #expect(try await server.get("/logs?limit=0&since=1678-01-01T00:00:00Z").status == 200)
            #expect(server.isRunning)
        }
    }

    @Test func errorAnswersCarryARequestId() async throws {
        try await withServer { server, _ in
            let first = try await server.get("/phases/nope")
            let second = try await server.get("/phases/nope")
            let id = try #require(first.header("X-Request-Id"))
            #expect(try first.json()["error"]?["requestId"]?.stringValue == id, "\(first)")
            #expect(second.header("X-Request-Id") != id, "one id per request")
            // The client's own id is kept; one that could forge log lines is replaced.
            let mine = try await server.get("/phases/nope", headers: [("X-Request-Id", "client-42")])
            #expect(mine.header("X-Request-Id") == "client-42")
            #expect(try mine.json()["error"]?["requestId"] == "client-42")
            let hostile = try await server.get("/phases/nope", headers: [("X-Request-Id", String(repeating: "x", count: 500))])
            #expect(hostile.header("X-Request-Id")?.count ?? 0 < 500, "\(hostile)")
        }
    }

    @Test func outputTailStaysWithinItsBoundAcrossRetries() async throws {
        try await withHarness { harness in
            // Three attempts of 40 bytes each against a 64-byte tail.
            try harness.write("deployment.yaml", """
                outputTailBytes: 64
                retry: {initialDelay: 10ms, factor: 1, maxDelay: 10ms, jitter: 0}
                executors:
                  - name: shell
                    plugin: shell
                """)
            let server = try await harness.start(arguments: ["--config", harness.path("deployment.yaml")])
            let line = String(repeating: "é", count: 19) + "\n"  // 39 bytes: a cut may land inside a character
            let answer = try await server.plan(manifest(shellPhase("noisy", "printf '\(line)'; exit 1", extra: #", "retry": {"maxAttempts": 3}"#)),
                                               "wait=true")
            let record = answer["result"]?["phases"]?.arrayValue?.first
            #expect(record?["attempts"]?.arrayValue?.count == 3, "\(answer.serialized)")
            let output = try #require(record?["output"]?.stringValue)
            #expect(output.utf8.count <= 64, "\(output.utf8.count) bytes: \(output)")
            #expect(output.hasSuffix(line), "the newest output is kept")
            #expect(!output.unicodeScalars.contains("\u{FFFD}"), "no character cut in half: \(output)")
            #expect(record?["outputDroppedBytes"] == .int(Int64(3 * line.utf8.count - output.utf8.count)), "\(answer.serialized)")
            let phase = try await server.json("/phases/noisy")
            #expect(phase["output"]?.stringValue?.utf8.count ?? 0 <= 64, "\(phase.serialized)")
        }
    }

    // The 500 path in-process: no route throws an unknown error on purpose, and none should.

    struct Unexpected: Error, CustomStringConvertible {
        var description: String { "disk /secret/path exploded" }
    }

    /// Collects log records, to see that the detail reaches the log.
    final class Captured: Sendable {
        let lines = Mutex<[String]>([])
    }

    struct CapturingHandler: LogHandler {
        let captured: Captured
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
                 function: String, line: UInt) {
            let text = "\(message) \(metadata ?? [:])"
            captured.lines.withLock { $0.append(text) }
        }
    }

    @Test func unknownErrorsAreAGeneric500WithTheDetailInTheLog() async throws {
        let captured = Captured()
        let logger = Logger(label: "test") { _ in CapturingHandler(captured: captured) }
        let middleware = ErrorMiddleware(requestIDs: RequestIDs())
        let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/state"),
                              body: RequestBody(buffer: ByteBuffer()))
        let answer = middleware.answer(for: Unexpected(), request: request, logger: logger)
        #expect(answer.status == .internalServerError)
        #expect(answer.code == "internal")
        let requestId = try #require(answer.requestId)
        #expect(!answer.message.contains("secret") && !answer.message.contains("exploded"), "\(answer.message)")
        #expect(answer.message.contains(requestId))

        let response = answer.response
        #expect(response.headers[RequestIDs.header] == requestId)
        let writer = CollectingWriter()
        try await response.body.write(writer)
        let body = writer.buffer.withLock { $0 }
        let json = try JSONParser.parse(Array(body.readableBytesView))
        #expect(json["error"]?["requestId"]?.stringValue == requestId, "\(json.serialized)")
        #expect(!json.serialized.contains("secret"), "\(json.serialized)")
        let log = captured.lines.withLock { $0 }.joined(separator: "\n")
        #expect(log.contains("disk /secret/path exploded") && log.contains(requestId), "\(log)")

        // Known errors keep their own answer, with a request id as well.
        let notFound = middleware.answer(for: APIError.notFound("no run r-1"), request: request, logger: logger)
        #expect(notFound.status == .notFound && notFound.message == "no run r-1" && notFound.requestId != nil)
    }

    /// Takes a response body's bytes.
    final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
        let buffer = Mutex(ByteBuffer())
        func write(_ chunk: ByteBuffer) async throws {
            var chunk = chunk
            buffer.withLock { $0.writeBuffer(&chunk) }
        }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
