import CSQLite

/// The open database, its prepared statements and the writes: used only on HistoryStore's
/// thread. Reads are in HistoryDatabase+Queries.swift, retention in HistoryDatabase+Retention.swift.
final class HistoryDatabase {
    let connection: SQLiteConnection
    private let insertPlan: SQLiteStatement
    private let upsertRun: SQLiteStatement
    private let upsertAttempt: SQLiteStatement
    private let upsertPhaseResult: SQLiteStatement
    private let insertEvent: SQLiteStatement

    /// Opens (or makes) the database, checks it is one, and turns WAL on. A file that is not
    /// a database, or fails its quick check, throws an error whose `isCorruption` is true.
    init(path: String) throws(SQLiteError) {
        connection = try SQLiteConnection(path: path)
        try Self.check(connection)
        // WAL: readers never wait for the writer; synchronous=NORMAL: a commit is in the WAL
        // file when COMMIT returns, so a killed process loses nothing committed (only a power
        // loss may lose the last transactions, never the database's consistency).
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;")
        let mode = try connection.prepare("PRAGMA journal_mode")
        if try mode.step(), mode.text(0).lowercased() != "wal" {
            throw SQLiteError(code: SQLITE_CANTOPEN, description: "\(path): cannot use WAL mode (got \(mode.text(0)))")
        }
        try connection.execute(HistorySchema.create + "PRAGMA user_version=\(HistorySchema.version);")
        insertPlan = try connection.prepare(HistorySchema.insertPlan)
        upsertRun = try connection.prepare(HistorySchema.upsertRun)
        upsertAttempt = try connection.prepare(HistorySchema.upsertAttempt)
        upsertPhaseResult = try connection.prepare(HistorySchema.upsertPhaseResult)
        insertEvent = try connection.prepare(HistorySchema.insertEvent)
    }

    private static func check(_ connection: SQLiteConnection) throws(SQLiteError) {
        let version = try connection.prepare("PRAGMA user_version")
        guard try version.step() else { return }
        if version.int(0) > HistorySchema.version {
            throw SQLiteError(code: SQLITE_CANTOPEN, description: "written by a newer Planter (schema \(version.int(0)), "
                              + "this one reads \(HistorySchema.version))")
        }
        let quick = try connection.prepare("PRAGMA quick_check(1)")
        if try quick.step(), quick.text(0) != "ok" {
            throw SQLiteError(code: SQLITE_CORRUPT, description: "integrity check failed: \(quick.text(0))")
        }
    }

    /// Applies `writes` in one transaction; returns the seq given to each event, in order.
    func apply(_ writes: ArraySlice<HistoryWrite>) throws(SQLiteError) -> Int {
        try connection.execute("BEGIN IMMEDIATE")
        var events = 0
        do {
            for write in writes {
                switch write {
                case .plan(let row):
                    try insertPlan.run([.text(row.planId), .int(row.submittedAt), .int(row.phaseCount), .blob(row.manifest)])
                case .run(let row):
                    try upsertRun.run([.text(row.runId), .text(row.planId), .text(row.trigger), .text(row.status),
                                       .int(row.startedAt), .optional(row.endedAt), .blob(row.summary), .blob(row.result)])
                case .attempt(let row):
                    try upsertAttempt.run([.text(row.runId), .text(row.phaseId), .int(row.attempt), .text(row.status),
                                           .int(row.startedAt), .optional(row.endedAt), .optional(row.exitCode), .text(row.message)])
                case .phaseResult(let row):
                    try upsertPhaseResult.run([.text(row.runId), .text(row.phaseId), .text(row.status), .text(row.message),
                                               .optional(row.endedAt), .blob(row.outputs)])
                case .event(let row):
                    let phase: SQLiteValue = row.phaseId.map { .text($0) } ?? .null
                    try insertEvent.run([.int(row.time), .text(row.runId), phase, .int(row.level), .text(row.kind), .blob(row.body)])
                    events += 1
                }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        return events
    }
}
