import PlanterHost
import PlanterJSON
import Synchronization

/// What this Planter knows of each session: its namespace, its run (once started), its plan
/// and where it stands. Bounded (the oldest ended sessions go first) and in memory only: a
/// session is for watching and steering a run; the record of the run is the history, under
/// its run id (which `.events` and `.get_state` give).
final class SessionTable: Sendable {
    struct Key: Hashable, Sendable {
        let namespace: String
        let session: String
    }

    /// Where a session came from: a `.start` of a tool (not announced again), or a run of this
    /// Planter (HTTP, apply, rerun), which Planter announces with its own `.start`.
    enum Origin: Sendable { case nats, planter }

    struct Record: Sendable {
        var origin: Origin
        var runId: String?
        var planId: String?
        /// `queued`, `running`, `complete`, `failed`, `cancelled`, `dryRun`, `invalid`, `rejected`.
        var status: String
        var manifest: Manifest?
        /// A dry run's answer, or an invalid start's problems.
        var answer: JSON?
    }

    private struct Storage {
        var records: [Key: Record] = [:]
        var byRun: [String: Key] = [:]
        var order: [Key] = []
    }

    let capacity: Int
    private let storage = Mutex(Storage())

    init(capacity: Int = 10_000) { self.capacity = max(16, capacity) }

    func record(_ key: Key) -> Record? { storage.withLock { $0.records[key] } }

    /// The session a run is bound to.
    func key(ofRun runId: String) -> Key? { storage.withLock { $0.byRun[runId] } }

    /// Creates or replaces the record (a session may be started again once it has ended).
    func put(_ key: Key, _ record: Record) {
        storage.withLock { storage in
            if storage.records[key] == nil { storage.order.append(key) }
            if let old = storage.records[key]?.runId { storage.byRun[old] = nil }
            storage.records[key] = record
            if let runId = record.runId { storage.byRun[runId] = key }
            trim(&storage)
        }
    }

    /// Changes a record in place; nil when there is none.
    @discardableResult
    func update<T>(_ key: Key, _ body: (inout Record) -> T) -> T? {
        storage.withLock { storage in
            guard var record = storage.records[key] else { return nil }
            let old = record.runId
            let result = body(&record)
            if record.runId != old {
                if let old { storage.byRun[old] = nil }
                if let runId = record.runId { storage.byRun[runId] = key }
            }
            storage.records[key] = record
            return result
        }
    }

    private func trim(_ storage: inout Storage) {
        guard storage.order.count > capacity else { return }
        let ended: Set<String> = ["complete", "failed", "cancelled", "dryRun", "invalid", "rejected"]
        var index = 0
        while storage.order.count > capacity, index < storage.order.count {
            let key = storage.order[index]
            if let record = storage.records[key], ended.contains(record.status) {
                storage.order.remove(at: index)
                storage.records[key] = nil
                if let runId = record.runId { storage.byRun[runId] = nil }
            } else {
                index += 1
            }
        }
    }
}
