import PlanterCore
import PlanterJSON
import Synchronization

/// Which events a reader wants: `GET /logs` filters and live followers use the same rules.
public struct EventFilter: Sendable {
    public var runIds: Set<String>?
    public var phaseId: String?
    public var minimumLevel: LogLevel?
    public var since: Timestamp?
    public var limit: Int?
    /// Only these kinds (a follower waiting for runs to start must not be handed every phase's output).
    public var kinds: Set<RunEvent.Kind>?

    public init(runIds: Set<String>? = nil, phaseId: String? = nil, minimumLevel: LogLevel? = nil, since: Timestamp? = nil,
                limit: Int? = nil, kinds: Set<RunEvent.Kind>? = nil) {
        self.runIds = runIds
        self.phaseId = phaseId
        self.minimumLevel = minimumLevel
        self.since = since
        self.limit = limit
        self.kinds = kinds
    }

    public func matches(_ event: RunEvent) -> Bool {
        if let kinds, !kinds.contains(event.kind) { return false }
        if let runIds, !runIds.contains(event.runId) { return false }
        if let phaseId, event.phaseId != phaseId { return false }
        if let minimumLevel, event.level < minimumLevel { return false }
        if let since, event.time < since { return false }
        return true
    }
}

/// The most recent events of every run, in memory, for queries and live followers. Bounded:
/// the oldest events fall out first.
public final class EventLog: EventSink {
    private struct Storage {
        var events: [RunEvent] = []
        var start = 0  // ring buffer head once full
        var subscribers: [Int: (EventFilter, AsyncStream<RunEvent>.Continuation)] = [:]
        var nextSubscriber = 0
    }

    public let capacity: Int
    private let storage = Mutex(Storage())

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    public func receive(_ event: RunEvent) {
        storage.withLock { storage in
            if storage.events.count < capacity {
                storage.events.append(event)
            } else {
                storage.events[storage.start] = event
                storage.start = (storage.start + 1) % capacity
            }
            for (filter, continuation) in storage.subscribers.values where filter.matches(event) {
                continuation.yield(event)
            }
        }
    }

    /// Matching events, oldest first; with a limit, the newest `limit` of them.
    public func query(_ filter: EventFilter) -> [RunEvent] {
        storage.withLock { Self.matching($0, filter) }
    }

    /// The events so far and a stream of the ones to come, with none lost or doubled between.
    public func follow(_ filter: EventFilter) -> (backlog: [RunEvent], live: AsyncStream<RunEvent>) {
        register(filter, backlog: true)
    }

    /// The events to come only: no pass over the log (a long poll subscribes at every request).
    public func subscribe(_ filter: EventFilter) -> AsyncStream<RunEvent> {
        register(filter, backlog: false).live
    }

    private func register(_ filter: EventFilter, backlog wanted: Bool) -> (backlog: [RunEvent], live: AsyncStream<RunEvent>) {
        let (stream, continuation) = AsyncStream<RunEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let (backlog, id) = storage.withLock { storage in
            let id = storage.nextSubscriber
            storage.nextSubscriber += 1
            storage.subscribers[id] = (filter, continuation)
            return (wanted ? Self.matching(storage, filter) : [], id)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.storage.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return (backlog, stream)
    }

    private static func matching(_ storage: Storage, _ filter: EventFilter) -> [RunEvent] {
        let ordered = storage.events[storage.start...] + storage.events[..<storage.start]
        var result = ordered.filter(filter.matches)
        if let limit = filter.limit, result.count > limit { result.removeFirst(result.count - limit) }
        return result
    }
}
