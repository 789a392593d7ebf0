/// The reads the service answers `GET /logs`, `/runs`, `/plans` and `/phases/{id}` from, and
/// crash recovery's view of a run: the embedded store, or a shared store of record (Redis).
public protocol HistoryReads: Sendable {
    func events(_ query: EventQuery) async throws -> Page<EventRow>
    func runs(planId: String?, _ request: PageRequest) async throws -> Page<[UInt8]>
    func run(_ runId: String) async throws -> [UInt8]?
    func plans(_ request: PageRequest) async throws -> Page<PlanSummary>
    func plan(_ planId: String) async throws -> PlanRow?
    func phaseHistory(_ phaseId: String, _ request: PageRequest) async throws -> Page<PhaseHistoryEntry>
    func progress(ofRun runId: String) async throws -> (attempts: [AttemptRow], results: [PhaseResultRow])
    func prune(_ retention: Retention, now: Int64) async throws -> (runs: Int, plans: Int)
}

/// A store of record beside the embedded one: it gets every write the embedded store gets
/// (which then keeps a local copy: what a lone Planter runs on while the shared store is
/// unreachable), and answers reads while it is reachable.
public protocol HistoryReplica: HistoryReads {
    /// Queues a write; never blocks (a bounded buffer: see the implementation).
    func enqueue(_ write: HistoryWrite)
    /// Waits (boundedly) until what was queued before the call is written.
    func flush() async
    /// Why the store cannot be used now (unreachable, writes lost); nil while it works.
    var problem: String? { get }
    /// Where it is, for the log (no secrets).
    var location: String { get }
    func close() async
    /// The namespace's state document (state.json's content) and the instance token of the
    /// Planter that wrote it, for a standby that takes over (written fenced, like the history).
    func saveState(_ document: [UInt8], owner: String)
    func loadState() async throws -> (document: [UInt8], owner: String)?
    /// Whether every state document saved so far is in the store (a run's phases wait for it:
    /// a successor must know the run is in flight before any of its phases starts).
    var stateIsWritten: Bool { get }
}

extension HistoryStore: HistoryReads {}
