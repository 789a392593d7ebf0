import Foundation
import PlanterCore

/// The history database behind one thread. Writes are queued (`enqueue`, from any thread,
/// never blocking unless the queue is full) and committed in batches: everything queued
/// while the last commit ran goes into the next transaction. Reads run on the same thread,
/// in queue order, so a read sees every write queued before it (committed, since reads and
/// writes share the one connection). `flush()` returns once all earlier writes are committed.
public final class HistoryStore: @unchecked Sendable {
    /// Why the database could not be opened (it is then not used at all).
    public struct OpenError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    enum Job {
        case write(HistoryWrite)
        case read(@Sendable (HistoryDatabase) -> Void)
        case close(@Sendable () -> Void)
    }

    public let path: String
    /// Writes queued beyond this make `enqueue` wait for the writer (a run outpacing the disk).
    static let queueLimit = 200_000
    /// At most this many writes per transaction.
    static let batchLimit = 20_000

    private let monitor = Monitor()
    private let jobsReady: Condition
    private let roomForJobs: Condition
    private var jobs: [Job] = []
    private var closed = false
    private var failure: String?
    /// Called on the store's thread after each commit with the number of events it held.
    private let eventsCommitted: @Sendable (Int) -> Void

    private init(path: String, eventsCommitted: @escaping @Sendable (Int) -> Void) {
        self.path = path
        self.eventsCommitted = eventsCommitted
        jobsReady = Condition(monitor)
        roomForJobs = Condition(monitor)
    }

    /// Opens `path` on a thread of its own (made with its folder when missing). A file that
    /// is not a readable database is moved aside (`<path>.corrupt-<time>`, with its -wal and
    /// -shm files) and a new one is made: the message says so and where it went.
    public static func open(path: String, eventsCommitted: @escaping @Sendable (Int) -> Void = { _ in })
        async -> Result<(store: HistoryStore, warning: String?), OpenError>
    {
        let store = HistoryStore(path: path, eventsCommitted: eventsCommitted)
        return await withCheckedContinuation { continuation in
            startThread(name: "planter-history") {
                switch store.openDatabase() {
                case .failure(let error):
                    continuation.resume(returning: .failure(error))
                case .success(let (database, warning)):
                    continuation.resume(returning: .success((store, warning)))
                    store.serve(database)
                }
            }
        }
    }

    private func openDatabase() -> Result<(HistoryDatabase, String?), OpenError> {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            return .failure(OpenError(description: "cannot create \(folder) for the history database: \(error.localizedDescription)"))
        }
        let firstError: SQLiteError
        do {
            return .success((try HistoryDatabase(path: path), nil))
        } catch {
            firstError = error
        }
        guard FileManager.default.fileExists(atPath: path) else {
            return .failure(OpenError(description: "cannot open the history database \(path): \(firstError)"))
        }
        let aside = path + ".corrupt-" + Timestamp.now().iso8601.filter(\.isNumber)
        do {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
        } catch {
            return .failure(OpenError(description: "the history database \(path) cannot be read (\(firstError)), and moving it "
                                      + "aside failed (\(error.localizedDescription)): fix or remove it"))
        }
        let warning = "the history database \(path) cannot be read (\(firstError)); moved it to \(aside) and started "
            + "a new one: the runs and events in it are no longer served"
        do {
            return .success((try HistoryDatabase(path: path), warning))
        } catch {
            return .failure(OpenError(description: "\(warning), but the new database cannot be opened either: \(error)"))
        }
    }

    // MARK: The thread

    private func serve(_ database: HistoryDatabase) {
        while true {
            monitor.lock()
            while jobs.isEmpty { jobsReady.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            roomForJobs.broadcast()
            monitor.unlock()
            var index = 0
            while index < batch.count {
                switch batch[index] {
                case .read(let body):
                    body(database)
                    index += 1
                case .close(let done):
                    monitor.withLock {
                        closed = true
                        roomForJobs.broadcast()
                    }
                    done()
                    return
                case .write:
                    var writes: [HistoryWrite] = []
                    while index < batch.count, writes.count < Self.batchLimit, case .write(let write) = batch[index] {
                        writes.append(write)
                        index += 1
                    }
                    commit(writes, database)
                }
            }
        }
    }

    private func commit(_ writes: [HistoryWrite], _ database: HistoryDatabase) {
        var events = 0
        do {
            events = try database.apply(writes[...])
            monitor.withLock { failure = nil }
        } catch {
            events = writes.reduce(0) { if case .event = $1 { $0 + 1 } else { $0 } }
            monitor.withLock { failure = "cannot write the history database \(path): \(error)" }
        }
        // Followers get the events even when the commit failed: `lastError` says what was lost.
        eventsCommitted(events)
    }

    // MARK: Queueing

    /// Waits while the queue is full (the disk is slower than the run). Call it before taking
    /// a lock that the `eventsCommitted` callback takes too, then `enqueue` under that lock.
    public func waitForRoom() {
        monitor.lock()
        while jobs.count >= Self.queueLimit && !closed { roomForJobs.wait() }
        monitor.unlock()
    }

    /// Queues a write; never blocks (see `waitForRoom`).
    public func enqueue(_ write: HistoryWrite) {
        monitor.lock()
        if !closed {
            jobs.append(.write(write))
            if jobs.count == 1 { jobsReady.signal() }
        }
        monitor.unlock()
    }

    /// Runs `body` on the store's thread after every write queued before it.
    func perform<T: Sendable>(_ body: @escaping @Sendable (HistoryDatabase) throws(SQLiteError) -> T) async throws(SQLiteError) -> T {
        let result: Result<T, SQLiteError> = await withCheckedContinuation { continuation in
            monitor.lock()
            guard !closed else {
                monitor.unlock()
                continuation.resume(returning: .failure(SQLiteError(code: 21, description: "the history store is closed")))
                return
            }
            jobs.append(.read { database in
                do throws(SQLiteError) { continuation.resume(returning: .success(try body(database))) }
                catch { continuation.resume(returning: .failure(error)) }
            })
            if jobs.count == 1 { jobsReady.signal() }
            monitor.unlock()
        }
        return try result.get()
    }

    /// Returns once every write queued before the call is committed (or has failed: see `lastError`).
    public func flush() async {
        _ = try? await perform { _ in true }
    }

    /// Why the last commit failed; nil once one succeeds.
    public var lastError: String? { monitor.withLock { failure } }

    /// Commits what is queued, then closes the database (a checkpoint folds the WAL back in).
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            monitor.lock()
            guard !closed else {
                monitor.unlock()
                continuation.resume()
                return
            }
            jobs.append(.close { continuation.resume() })
            if jobs.count == 1 { jobsReady.signal() }
            monitor.unlock()
        }
    }
}
