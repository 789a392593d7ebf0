/// The tables, made on first open (`PRAGMA user_version` says which version a file has).
/// Every row names its run; deleting a run's rows is retention's whole job.
enum HistorySchema {
    static let version: Int64 = 1

    static let create = """
        CREATE TABLE IF NOT EXISTS plans(
            seq INTEGER PRIMARY KEY, plan_id TEXT NOT NULL UNIQUE, submitted_at INTEGER NOT NULL,
            phase_count INTEGER NOT NULL, manifest BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS runs(
            seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, plan_id TEXT NOT NULL, trigger TEXT NOT NULL,
            status TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, summary BLOB NOT NULL, result BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS runs_by_plan ON runs(plan_id, seq);
        CREATE TABLE IF NOT EXISTS attempts(
            run_id TEXT NOT NULL, phase_id TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
            started_at INTEGER NOT NULL, ended_at INTEGER, exit_code INTEGER, message TEXT NOT NULL,
            PRIMARY KEY(run_id, phase_id, attempt)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS attempts_by_phase ON attempts(phase_id, run_id);
        CREATE TABLE IF NOT EXISTS phase_results(
            run_id TEXT NOT NULL, phase_id TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
            ended_at INTEGER NOT NULL, outputs BLOB NOT NULL, PRIMARY KEY(run_id, phase_id)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS phase_results_by_phase ON phase_results(phase_id, ended_at);
        CREATE TABLE IF NOT EXISTS events(
            seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, run_id TEXT NOT NULL, phase_id TEXT,
            level INTEGER NOT NULL, kind TEXT NOT NULL, body BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id, seq);
        CREATE INDEX IF NOT EXISTS events_by_phase ON events(phase_id, seq);
        """

    static let insertPlan = "INSERT OR IGNORE INTO plans(plan_id, submitted_at, phase_count, manifest) VALUES(?, ?, ?, ?)"
    static let upsertRun = """
        INSERT INTO runs(run_id, plan_id, trigger, status, started_at, ended_at, summary, result) VALUES(?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(run_id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at,
            summary = excluded.summary, result = excluded.result
        """
    static let upsertAttempt = """
        INSERT OR REPLACE INTO attempts(run_id, phase_id, attempt, status, started_at, ended_at, exit_code, message)
        VALUES(?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let upsertPhaseResult = """
        INSERT OR REPLACE INTO phase_results(run_id, phase_id, status, message, ended_at, outputs) VALUES(?, ?, ?, ?, ?, ?)
        """
    static let insertEvent = "INSERT INTO events(time, run_id, phase_id, level, kind, body) VALUES(?, ?, ?, ?, ?, ?)"
}
