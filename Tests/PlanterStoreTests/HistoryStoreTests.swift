import Foundation
import PlanterStore
import Testing

/// The history store on real SQLite files in a scratch folder: pages come in seq order with
/// cursors that walk back and forth without gaps or repeats, a file that is not a database is
/// moved aside (never emptied in place), what was committed survives a reopen, and retention
/// removes the oldest runs with their rows.
@Suite struct HistoryStoreTests {
    static func scratch() throws -> String {
        let folder = NSTemporaryDirectory() + "planter-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    static func open(_ path: String) async throws -> (HistoryStore, String?) {
        switch await HistoryStore.open(path: path) {
        case .success(let opened): return (opened.store, opened.warning)
        case .failure(let error): throw error
        }
    }

    static func event(_ run: String, _ number: Int) -> HistoryWrite {
        .event(EventRow(time: Int64(number), runId: run, phaseId: "p\(number % 3)", level: Int64(number % 4), kind: "log",
                        body: Array("{\"n\":\(number)}".utf8)))
    }

    static func numbers(_ page: Page<EventRow>) -> [Int] {
        page.rows.map { Int(String(decoding: $0.row.body.dropFirst(5).dropLast(), as: UTF8.self)) ?? -1 }
    }

    @Test func pagesWalkBackAndForthInOrder() async throws {
        let (store, _) = try await Self.open(try Self.scratch() + "/history.db")
        for number in 0..<25 { store.enqueue(Self.event("r1", number)) }
        let newest = try await store.events(EventQuery(runIds: ["r1"], page: PageRequest(limit: 10)))
        #expect(Self.numbers(newest) == Array(15..<25))
        #expect(newest.more)
        let older = try await store.events(EventQuery(runIds: ["r1"], page: PageRequest(before: newest.rows.first!.seq, limit: 10)))
        #expect(Self.numbers(older) == Array(5..<15))
        let oldest = try await store.events(EventQuery(runIds: ["r1"], page: PageRequest(before: older.rows.first!.seq, limit: 10)))
        #expect(Self.numbers(oldest) == Array(0..<5))
        #expect(!oldest.more)
        let forward = try await store.events(EventQuery(runIds: ["r1"], page: PageRequest(after: oldest.rows.last!.seq, limit: 7)))
        #expect(Self.numbers(forward) == Array(5..<12))
        let filtered = try await store.events(EventQuery(phaseId: "p1", minimumLevel: 2, page: PageRequest(limit: 100)))
        #expect(Self.numbers(filtered) == (0..<25).filter { $0 % 3 == 1 && $0 % 4 >= 2 })
        await store.close()
    }

    @Test func committedRowsSurviveAReopen() async throws {
        let path = try Self.scratch() + "/history.db"
        let (first, _) = try await Self.open(path)
        for number in 0..<100 { first.enqueue(Self.event("r1", number)) }
        await first.flush()
        // No close: the process could die here; the WAL holds the commits.
        let (second, warning) = try await Self.open(path)
        #expect(warning == nil)
        let page = try await second.events(EventQuery(page: PageRequest(limit: 1000)))
        #expect(Self.numbers(page) == Array(0..<100))
    }

    @Test func aFileThatIsNotADatabaseIsMovedAsideWithAMessage() async throws {
        let folder = try Self.scratch()
        let path = folder + "/history.db"
        let garbage = Array("this is not a database, but it is somebody's file\n".utf8) + [UInt8](repeating: 0x41, count: 8192)
        try Data(garbage).write(to: URL(fileURLWithPath: path))
        let (store, warning) = try await Self.open(path)
        let message = try #require(warning)
        #expect(message.contains("cannot be read") && message.contains("moved it to \(path).corrupt-"), "\(message)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("history.db.corrupt-") }
        #expect(aside.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + aside[0])) == Data(garbage), "kept byte for byte")
        store.enqueue(Self.event("r1", 1))
        #expect(try await store.events(EventQuery(page: PageRequest(limit: 10))).rows.count == 1, "the new database works")
    }

    @Test func retentionKeepsTheNewestRunsAndTheirRows() async throws {
        let (store, _) = try await Self.open(try Self.scratch() + "/history.db")
        for index in 0..<5 {
            let run = "r\(index)"
            store.enqueue(.plan(PlanRow(planId: "p\(index)", submittedAt: Int64(index), phaseCount: 1, manifest: Array("[]".utf8))))
            store.enqueue(.run(RunRow(runId: run, planId: "p\(index)", trigger: "plan", status: "succeeded", startedAt: Int64(index),
                                      endedAt: Int64(index), summary: Array("{}".utf8), result: Array("{}".utf8))))
            store.enqueue(.attempt(AttemptRow(runId: run, phaseId: "a", attempt: 1, status: "succeeded", startedAt: 0)))
            store.enqueue(Self.event(run, index))
        }
        let pruned = try await store.prune(Retention(runs: 2), now: 100)
        #expect(pruned.runs == 3 && pruned.plans == 3)
        let runs = try await store.runs(PageRequest(limit: 10))
        #expect(runs.rows.count == 2)
        #expect(try await store.run("r0") == nil)
        #expect(try await store.run("r4") != nil)
        #expect(try await store.progress(ofRun: "r1").attempts.isEmpty)
        #expect(try await store.events(EventQuery(page: PageRequest(limit: 10))).rows.map(\.row.runId) == ["r3", "r4"])
        #expect(try await store.plans(PageRequest(limit: 10)).rows.map(\.row.planId) == ["p3", "p4"])
    }
}
