import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PlanterJSON
import Testing

/// GET /phases/:id, POST /phases/:id/run, GET /runs, GET /runs/:id, GET /logs (filters and
/// `follow=true` Server-Sent Events).
@Suite struct InspectionTests {
    @Test func phaseInspectionAndRerunWithAndWithoutDependents() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let plan = manifest(shellPhase("a", "echo a >> \(log); echo hello from a; exit 0"),
                                recordingPhase("b", log: log, waitFor: ["a"]),
                                recordingPhase("c", log: log, waitFor: ["b"]),
                                recordingPhase("solo", log: log))
            let first = try await server.plan(plan, "wait=true")
            let firstRun = try #require(first["runId"]?.stringValue)

            let phase = try await server.json("/phases/a")
            #expect(phase["id"] == "a")
            #expect(phase["spec"]?["x-run"]?["script"]?.stringValue?.hasPrefix("echo a >>") == true, "\(phase.serialized)")
            #expect(phase["spec"]?["selector"]?["matchLabels"]?["executor"] == "shell")
            #expect(phase["status"] == "succeeded")
            #expect(phase["lastRunId"]?.stringValue == firstRun)
            let attempts = phase["attempts"]?.arrayValue ?? []
            #expect(attempts.count == 1)
            #expect(attempts.first?["status"] == "succeeded")
            #expect(attempts.first?["exitCode"] == 0)
            #expect(attempts.first?["startedAt"]?.stringValue != nil && attempts.first?["endedAt"]?.stringValue != nil)
            #expect(attempts.first?["durationMs"]?.intValue != nil)
            #expect(phase["output"]?.stringValue?.contains("hello from a") == true, "output tail: \(phase.serialized)")
            let events = phase["events"]?.arrayValue ?? []
            #expect(events.contains { $0["type"] == "phaseFinished" }, "\(phase.serialized)")
            #expect(events.allSatisfy { $0["phaseId"] == "a" })
            #expect(phase["labels"]?.objectValue != nil)

            let missing = try await server.get("/phases/nope")
            #expect(missing.status == 404, "\(missing)")
            #expect(missing.errorCode == "notFound")
            #expect(missing.errorMessage.contains("nope"))

            // Rerun a alone, then with what waits on it (b, c) but not solo.
            let alone = try await server.post("/phases/a/run?wait=true")
            #expect(alone.status == 200, "\(alone)")
            #expect(try alone.json()["result"]?.statuses == ["a": "succeeded", "b": "skipped", "c": "skipped", "solo": "skipped"])
            #expect(harness.lines("runs.log").filter { $0 == "a" }.count == 2)
            #expect(harness.lines("runs.log").filter { $0 == "b" }.count == 1)

            let withDependents = try await server.post("/phases/a/run?withDependents=true&wait=true")
            #expect(withDependents.status == 200, "\(withDependents)")
            let rerunId = try #require(try withDependents.json()["runId"]?.stringValue)
            #expect(try withDependents.json()["result"]?.statuses == ["a": "succeeded", "b": "succeeded", "c": "succeeded", "solo": "skipped"])
            #expect(harness.lines("runs.log").sorted() == ["a", "a", "a", "b", "b", "c", "c", "solo"])
            let again = try await server.json("/phases/c")
            #expect(again["lastRunId"]?.stringValue == rerunId)

            let runs = try await server.json("/runs")
            #expect(runs["runs"]?.arrayValue?.map { $0["trigger"]?.stringValue ?? "?" } == ["rerun", "rerun", "plan"], "newest first")
            #expect(try await server.post("/phases/nope/run").status == 404)
            #expect(try await server.post("/phases/a/run?withDependents=maybe").status == 400)
        }
    }

    @Test func runHistoryAndOneRun() async throws {
        try await withServer { server, harness in
            let noRun = try await server.get("/runs/nope")
            #expect(noRun.status == 404, "\(noRun)")
            #expect(try await server.json("/runs")["runs"] == [])
            let log = harness.path("runs.log")
            let ok = try await server.plan(manifest(recordingPhase("a", log: log)), "wait=true")
            let bad = try await server.plan(manifest(recordingPhase("a", log: log), shellPhase("broken", "exit 3")), "wait=true")
            let okRun = try #require(ok["runId"]?.stringValue)
            let badRun = try #require(bad["runId"]?.stringValue)

            let runs = try await server.json("/runs")["runs"]?.arrayValue ?? []
            #expect(runs.map { $0["runId"]?.stringValue ?? "?" } == [badRun, okRun])
            #expect(runs.map { $0["status"]?.stringValue ?? "?" } == ["failed", "succeeded"])
            #expect(runs.first?["planId"] == bad["planId"])
            #expect(runs.first?["failedPhase"] == "broken")
            #expect(runs.allSatisfy { $0["phases"] == nil }, "the list has summaries")

            let one = try await server.json("/runs/\(badRun)")
            #expect(one["runId"]?.stringValue == badRun)
            #expect(one["status"] == "failed")
            #expect(one["trigger"] == "plan")
            #expect(one.statuses == ["a": "skipped", "broken": "failed"])
            let broken = one["phases"]?.arrayValue?.first { $0["id"] == "broken" }
            #expect(broken?["attempts"]?.arrayValue?.first?["exitCode"] == 3)
        }
    }

    @Test func logsFilters() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let first = try await server.plan(manifest(shellPhase("a", "echo out-a"), shellPhase("b", "echo out-b; exit 1", waitFor: ["a"])), "wait=true")
            let firstRun = try #require(first["runId"]?.stringValue)
            let firstPlan = try #require(first["planId"]?.stringValue)
            let second = try await server.plan(manifest(recordingPhase("z", log: log)), "wait=true")
            let secondRun = try #require(second["runId"]?.stringValue)

            let all = try await server.json("/logs")
            let allEvents = all["events"]?.arrayValue ?? []
            #expect(all["count"]?.intValue == allEvents.count)
            #expect(Set(allEvents.compactMap { $0["runId"]?.stringValue }) == [firstRun, secondRun])

            let byRun = try await server.json("/logs?runId=\(firstRun)")["events"]?.arrayValue ?? []
            #expect(!byRun.isEmpty && byRun.allSatisfy { $0["runId"]?.stringValue == firstRun })
            #expect(byRun.first?["type"] == "runStarted")
            #expect(byRun.last?["type"] == "runFinished")
            #expect(byRun.contains { $0["type"] == "output" && $0["phaseId"] == "a" }, "output lines are events")

            let byPlan = try await server.json("/logs?planId=\(firstPlan)")["events"]?.arrayValue ?? []
            #expect(byPlan.count == byRun.count)

            let byPhase = try await server.json("/logs?phaseId=b")["events"]?.arrayValue ?? []
            #expect(!byPhase.isEmpty && byPhase.allSatisfy { $0["phaseId"] == "b" })

            let errors = try await server.json("/logs?level=error")["events"]?.arrayValue ?? []
            #expect(!errors.isEmpty && errors.allSatisfy { $0["level"] == "error" })
            #expect(errors.contains { $0["type"] == "phaseFinished" && $0["phaseId"] == "b" })
            let warnings = try await server.json("/logs?level=warning")["events"]?.arrayValue ?? []
            #expect(warnings.count > errors.count && warnings.allSatisfy { $0["level"] == "warning" || $0["level"] == "error" })

            let limited = try await server.json("/logs?limit=2")["events"]?.arrayValue ?? []
            #expect(limited.count == 2)
            #expect(limited.last?["runId"]?.stringValue == secondRun && limited.last?["type"] == "runFinished", "the newest events")

            let future = try await server.json("/logs?since=2261-01-01T00:00:00Z")
            #expect(future["count"] == 0)
            let past = try await server.json("/logs?since=2000-01-01T00:00:00Z")
            #expect(past["count"]?.intValue == allEvents.count)
            // Dates beyond what nanoseconds since 1970 hold in 64 bits (1678…2262) crashed the server;
            // now they are a 400 naming the range.
            for far in ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00%2B01:00"] {
                let answer = try await server.get("/logs?since=\(far)")
                #expect(answer.status == 400 && answer.errorMessage.contains("1678-01-01T00:00:00Z"), "\(answer)")
            }
            #expect(server.isRunning)

            for bad in ["level=loud", "since=yesterday", "limit=-1", "follow=perhaps"] {
                let answer = try await server.get("/logs?\(bad)")
                #expect(answer.status == 400, "\(bad): \(answer)")
                let name = String(bad.prefix { $0 != "=" })
                #expect(try answer.json()["error"]?["details"]?.arrayValue?.first?["path"]?.stringValue == "?" + name)
            }
        }
    }

    @Test func followStreamsServerSentEventsUntilTheRunEnds() async throws {
        try await withServer { server, harness in
            // talk says first-42, then waits for the gate the test opens once that came down the
            // stream: the stream is live while the run goes on, or talk gives up after 30 s.
            // (The markers are computed, so the script's own text never matches them.)
            let gate = harness.path("gate")
            let wait = "i=0; while [ ! -f \(gate) ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done"
            let plan = manifest(shellPhase("talk", "echo first-$((6*7)); \(wait); if [ -f \(gate) ]; then echo second-$((6*7)); else echo gave-up-$((6*7)); fi"),
                                shellPhase("then", "echo three", waitFor: ["talk"]))
            let started = try await server.plan(plan)
            let runId = try #require(started["runId"]?.stringValue)

            var request = HTTPClientRequest(url: server.url + "/logs?follow=true&runId=\(runId)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            let response = try await harness.client.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            var text = ""
            var sawOneBeforeTwo = false
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.contains("first-42") && !text.contains("second-42") && !sawOneBeforeTwo {
                    sawOneBeforeTwo = true
                    try harness.write("gate", "")
                }
            }
            #expect(sawOneBeforeTwo, "events arrive as they happen, while the run goes on")
            #expect(!text.contains("gave-up-42"), "the stream did not deliver first-42 while talk was running: \(text)")
            #expect(text.contains("second-42"), "live events keep the stream open until the run ends: \(text)")

            let events = try text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block -> JSON in
                #expect(block.hasPrefix("data: "), "SSE framing: \(block)")
                return try JSONParser.parse(String(block.dropFirst("data: ".count)))
            }
            #expect(events.first?["type"] == "runStarted")
            #expect(events.last?["type"] == "runFinished", "the stream ends with the run")
            #expect(events.allSatisfy { $0["runId"]?.stringValue == runId })
            let outputs = events.filter { $0["type"] == "output" }.compactMap { $0["message"]?.stringValue ?? $0["details"]?["text"]?.stringValue }
            #expect(outputs.joined().contains("first-42") && outputs.joined().contains("three"), "\(text)")
            #expect(try await server.json("/runs/\(runId)")["status"] == "succeeded")

            // Following when nothing runs: the backlog, filtered, and the stream ends at once.
            let backlog = try await server.get("/logs?follow=true&runId=\(runId)&phaseId=then")
            #expect(backlog.status == 200)
            let blocks = backlog.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(!blocks.isEmpty && blocks.allSatisfy { $0.contains(#""phaseId":"then""#) }, "\(backlog)")
        }
    }
}
