import AsyncHTTPClient
import Foundation
import NIOCore
import PlanterJSON
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The history store behind a real `planter serve`: runs, plans and logs answer the same after a
/// restart, pages walk the log with cursors, retention prunes the oldest runs, a database that
/// is not one is moved aside, and a `kill -9` mid-run loses no event a client had seen.
@Suite struct HistoryTests {
    /// An event as a client identifies it.
    static func key(_ event: JSON) -> String {
        ["time", "type", "phaseId", "attempt", "message"].map { event[$0]?.serialized ?? "-" }.joined(separator: "|")
    }

    @Test func logsRunsPlansAndPhasesAnswerTheSameAfterARestart() async throws {
        try await withHarness { harness in
            let first = try await harness.start()
            let plan = manifest(shellPhase("a", "echo hello-a"), shellPhase("b", "exit 3", waitFor: ["a"]))
            let answer = try await first.plan(plan, "wait=true")
            let runId = try #require(answer["runId"]?.stringValue)
            let planId = try #require(answer["planId"]?.stringValue)
            let second = try await first.plan(manifest(shellPhase("a", "echo hello-a2")), "wait=true")
            let secondRun = try #require(second["runId"]?.stringValue)
            let logs = try await first.json("/logs?runId=\(runId)")
            let run = try await first.json("/runs/\(runId)")
            let phase = try await first.json("/phases/a")
            #expect((logs["events"]?.arrayValue?.count ?? 0) >= 6, "\(logs.serialized)")
            #expect(run.statuses == ["a": "succeeded", "b": "failed"])

            first.signal(SIGTERM)
            #expect(await first.waitForExit(timeout: 20) == 0)
            let restarted = try await harness.start()
            let logsAfter = try await restarted.json("/logs?runId=\(runId)")
            #expect(logsAfter["events"] == logs["events"], "the same events, in the same order, with the same cursors")
            #expect(try await restarted.json("/runs/\(runId)") == run)
            let runs = try await restarted.json("/runs")["runs"]?.arrayValue ?? []
            #expect(runs.compactMap { $0["runId"]?.stringValue } == [secondRun, runId], "newest first")
            let plans = try await restarted.json("/plans")["plans"]?.arrayValue ?? []
            #expect(plans.count == 2 && plans.last?["planId"]?.stringValue == planId, "\(plans)")
            #expect(plans.first?["applied"] == true && plans.last?["applied"] == false)
            let revision = try await restarted.json("/plans/\(planId)")
            #expect(revision["phases"]?.ids == ["a", "b"], "the old revision, whole")
            #expect(try await restarted.get("/plans/p-nosuchplan").status == 404)
            let phaseAfter = try await restarted.json("/phases/a")
            #expect(phaseAfter["events"] == phase["events"])
            let history = phaseAfter["history"]?.arrayValue ?? []
            #expect(history.compactMap { $0["runId"]?.stringValue } == [secondRun, runId], "a's runs, newest first: \(history)")
            #expect(history.last?["attempts"]?.arrayValue?.first?["status"] == "succeeded")
            let failed = try await restarted.json("/logs?runId=\(runId)&level=error&phaseId=b")["events"]?.arrayValue ?? []
            #expect(!failed.isEmpty && failed.allSatisfy { $0["phaseId"] == "b" && $0["level"] == "error" }, "\(failed)")
        }
    }

    @Test func cursorsPageThroughTheLogWithoutGapsOrRepeats() async throws {
        try await withServer { server, _ in
            let phases = (0..<10).map { #"{"kind": "Phase", "id": "p\#($0)", "spec": {}}"# }
            let runId = try #require(try await server.plan(manifest(phases), "wait=true")["runId"]?.stringValue)
            let all = try await server.json("/logs?runId=\(runId)&limit=100000")
            let everything = all["events"]?.arrayValue ?? []
            #expect(everything.count > 20)
            var pages: [JSON] = []
            var cursor: JSON? = nil
            repeat {
                let page = try await server.json("/logs?runId=\(runId)&limit=7" + (cursor.map { "&before=\($0.serialized)" } ?? ""))
                pages.insert(contentsOf: page["events"]?.arrayValue ?? [], at: 0)
                cursor = page["more"] == true ? page["cursor"]?["before"] : nil
            } while cursor != nil
            #expect(pages == everything, "back to front, seven at a time")
            let seqs = everything.compactMap { $0["seq"]?.intValue }
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
            let forward = try await server.json("/logs?runId=\(runId)&limit=5&after=\(seqs[2])")["events"]?.arrayValue ?? []
            #expect(forward.compactMap { $0["seq"]?.intValue } == Array(seqs[3..<8]))
            let between = try await server.json("/logs?runId=\(runId)&after=\(seqs[1])&before=\(seqs[4])")["events"]?.arrayValue ?? []
            #expect(between.compactMap { $0["seq"]?.intValue } == [seqs[2], seqs[3]], "both cursors: the rows between")
            let bad = try await server.get("/runs?before=-1")
            #expect(bad.status == 400 && bad.text.contains("before"), "\(bad)")
        }
    }

    @Test func retentionKeepsTheNewestRuns() async throws {
        try await withHarness { harness in
            try harness.write("planter.yaml", "history: {runs: 2}\n")
            let server = try await harness.start(arguments: ["--config", harness.path("planter.yaml")])
            try await Self.expectNewestTwoKept(server, runIds: try await Self.postRevisions(server, 4))
        }
    }

    /// `count` revisions of a one-phase plan, each run to its end; their run ids.
    static func postRevisions(_ server: ServerProcess, _ count: Int) async throws -> [String] {
        var runIds: [String] = []
        for index in 0..<count {
            let phase = #"{"kind": "Phase", "id": "p", "spec": {"description": "revision \#(index)"}}"#
            runIds.append(try #require(try await server.plan(manifest(phase), "wait=true")["runId"]?.stringValue))
        }
        return runIds
    }

    /// Under `history: {runs: 2}`: only the newest two of `runIds` (four) are left, with their events and plans.
    static func expectNewestTwoKept(_ reader: ServerProcess, runIds: [String], sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let kept = await eventually(within: 10) {
            let runs = (try? await reader.json("/runs"))?["runs"]?.arrayValue ?? []
            return runs.compactMap { $0["runId"]?.stringValue } == [runIds[3], runIds[2]]
        }
        let listed = (try? await reader.json("/runs"))?.serialized ?? ""
        #expect(kept, "\(listed)", sourceLocation: sourceLocation)
        #expect(try await reader.json("/logs?runId=\(runIds[0])")["count"] == 0, "its events went with it", sourceLocation: sourceLocation)
        #expect(try await reader.json("/logs?runId=\(runIds[3])")["count"] != 0, sourceLocation: sourceLocation)
        #expect((try await reader.json("/plans")["plans"]?.arrayValue?.count) == 2, sourceLocation: sourceLocation)
    }

    @Test func historyOffKeepsRunsInMemoryOnly() async throws {
        try await withHarness { harness in
            let server = try await harness.start(environment: ["PLANTER_HISTORY": "off"])
            let runId = try #require(try await server.plan(manifest(shellPhase("a", "echo hi")), "wait=true")["runId"]?.stringValue)
            #expect(try await server.json("/runs/\(runId)").statuses == ["a": "succeeded"])
            #expect(!FileManager.default.fileExists(atPath: server.root + "/state/history.db"), "no database made")
            let bad = try await harness.startupFailure(environment: ["PLANTER_HISTORY": "maybe"])
            #expect(bad.contains("PLANTER_HISTORY must be on or off"), "\(bad)")
        }
    }

    @Test func aBadRetentionIsAnErrorAtItsPointer() async throws {
        try await withHarness { harness in
            try harness.write("planter.yaml", "history: {runs: 0, dayz: 3}\n")
            var text = ""
            do {
                _ = try await harness.start(arguments: ["--config", harness.path("planter.yaml")])
                Issue.record("planter serve started with an invalid history config")
            } catch {
                text = "\(error)"
            }
            #expect(text.contains("/history/runs") && text.contains("1...10000000"), "\(text)")
            #expect(text.contains("/history/dayz") && text.contains("did you mean \"days\""), "\(text)")
        }
    }

    @Test func aDatabaseThatIsNotOneIsMovedAsideAndTheServerStarts() async throws {
        try await withHarness { harness in
            try FileManager.default.createDirectory(atPath: harness.path("root/state"), withIntermediateDirectories: true)
            try "not a database at all".write(toFile: harness.path("root/state/history.db"), atomically: true, encoding: .utf8)
            let server = try await harness.start()
            let log = server.log()
            #expect(log.contains("history database") && log.contains("moved it to"), "\(log)")
            let aside = try FileManager.default.contentsOfDirectory(atPath: harness.path("root/state"))
                .filter { $0.hasPrefix("history.db.corrupt-") }
            #expect(aside.count == 1)
            let kept = try String(contentsOfFile: harness.path("root/state/" + aside[0]), encoding: .utf8)
            #expect(kept == "not a database at all", "moved, not emptied")
            #expect(try await server.json("/logs")["count"] == 0)
        }
    }

    /// 2,000 shell phases; a client follows the log; planter gets SIGKILL mid-run. After the
    /// restart every event the client had received is in GET /logs, and the run reads
    /// interrupted and resumes without running again what had succeeded.
    @Test func kill9MidRunLosesNoEventTheClientSaw() async throws {
        try await withHarness { harness in
            let server = try await harness.start(arguments: ["--parallel", "2"])
            let phases = (0..<2000).map { shellPhase("p\($0)", "true") }
            let runId = try #require(try await server.plan(manifest(phases))["runId"]?.stringValue)
            let seen = Mutex<[JSON]>([])
            var request = HTTPClientRequest(url: server.url + "/logs?follow=true&runId=\(runId)&limit=100000")
            request.method = .GET
            let follower = Task {
                let response = try await harness.client.execute(request, timeout: .seconds(120))
                var pending: [UInt8] = []
                for try await buffer in response.body {
                    pending += Array(buffer.readableBytesView)
                    // Whole `data: {...}\n\n` frames only.
                    while let end = pending.indices.dropLast().first(where: { pending[$0] == 10 && pending[$0 + 1] == 10 }) {
                        let frame = String(decoding: pending[..<end], as: UTF8.self)
                        pending.removeFirst(end + 2)
                        if frame.hasPrefix("data: "), let event = try? JSONParser.parse(Array(frame.dropFirst(6).utf8)) {
                            seen.withLock { $0.append(event) }
                        }
                    }
                }
            }
            let midRun = await eventually(within: 60) {
                seen.withLock { events in events.filter { $0["type"] == "phaseFinished" }.count >= 300 }
            }
            #expect(midRun, "the run progressed: \(seen.withLock { $0.count }) events")
            kill(server.pid, SIGKILL)
            #expect(await server.waitForExit(timeout: 20) == 128 + SIGKILL)
            follower.cancel()
            _ = await follower.result
            let received = seen.withLock { $0 }
            #expect(!received.contains { $0["type"] == "runFinished" }, "killed before the end")

            let restarted = try await harness.start(arguments: ["--parallel", "2"])
            let after = try await restarted.json("/logs?runId=\(runId)&limit=100000")["events"]?.arrayValue ?? []
            let stored = Set(after.map(Self.key))
            let missing = received.filter { !stored.contains(Self.key($0)) }
            #expect(missing.isEmpty, "\(missing.count) of \(received.count) events seen before the kill are gone: \(missing.prefix(3))")
            let run = try await restarted.json("/runs/\(runId)")
            #expect(run["status"] == "interrupted")
            let succeeded = run.statuses.values.filter { $0 == "succeeded" }.count
            let finishedSeen = Set(received.filter { $0["type"] == "phaseFinished" }.compactMap { $0["phaseId"]?.stringValue })
            #expect(succeeded >= finishedSeen.count, "every phase the client saw finish reads succeeded")
            #expect(try await restarted.json("/state")["interruptedRunId"]?.stringValue == runId)
            let resumed = try await restarted.post("/apply?wait=true")
            #expect(resumed.status == 200, "\(resumed)")
            let result = try resumed.json()["result"] ?? .null
            #expect(result["status"] == "succeeded")
            let skipped = result.statuses.values.filter { $0 == "skipped" }.count
            #expect(skipped >= finishedSeen.count, "what had succeeded is not run again: \(skipped) skipped")
        }
    }
}
