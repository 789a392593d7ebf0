import ExecutorRuntime
import PlanterCore
import PlanterJSON
import PlanterMessaging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Planter's side of the worker pools: the streams and each pool's consumer (made on first
/// use, so a NATS server that is down at start-up only delays the first remote phase), the
/// attempts in flight and what their workers report, the results stream (acknowledged once
/// the waiting attempt has the result), and the workers seen lately.
public final class RemoteDispatcher: Sendable {
    public enum Arrival: Sendable {
        case started(worker: String)
        case output(OutputChannel, String)
        case heartbeat
        /// With the number of output events the worker sent for it.
        case result(ExecuteResult, outputEvents: Int)
        /// JetStream's MAX_DELIVERIES advisory: the item was delivered to the pool's consumer as
        /// often as it may be and never acknowledged (its worker took it, then went silent).
        case exhausted(consumer: String, deliveries: Int)
    }

    /// A worker as its presence messages describe it.
    public struct Presence: Sendable {
        public var id: String
        public var namespace: String
        public var pool: String
        public var executors: [String]
        public var capacity: Int
        public var inFlight: Int
        public var version: Int
        /// Set when the worker speaks another work protocol version: it gets no work from this Planter.
        public var warning: String?
        public var lastSeen: Timestamp
        var seenMonotonic: Int64
    }

    let connection: NATSConnection
    /// `PLANTER_NATS_PREFIX` (every namespace's work subjects start with it).
    public let prefix: String
    private let jetStream: JetStream
    private let followers = Mutex<[String: Mailbox<Arrival>]>([:])
    private let presence = Mutex<[String: Presence]>([:])
    /// Workers already warned about (another protocol version), so the log says it once per worker.
    private let warned = Mutex<Set<String>>([])
    /// `namespace/pool` whose consumers exist; namespaces whose work streams exist.
    private let pools = Mutex<Set<String>>([])
    private let namespaces = Mutex<Set<String>>([])
    /// Work items in the queues (`stream#sequence` → dispatch id), for the MAX_DELIVERIES advisories.
    private let items = Mutex<(bySequence: [String: String], byDispatch: [String: String])>(([:], [:]))
    private let started = Mutex(false)
    private let stopping = Atomic<Bool>(false)
    /// Runs being recovered after a restart: the results of their attempts that nobody follows.
    private let collecting = Mutex<[String: [String: (attempt: Int, result: ExecuteResult)]]>([:])
    /// Fetches of the results stream that came back empty (the backlog is read).
    private let emptyFetches = Atomic<Int>(0)
    private let log: @Sendable (String) -> Void

    public init(connection: NATSConnection, prefix: String, log: @escaping @Sendable (String) -> Void) throws(NATSError) {
        self.connection = connection
        self.prefix = prefix
        jetStream = try JetStream(connection)
        self.log = log
        _ = try connection.subscribe(WorkSubjects.eventSubjects(prefix: prefix), headers: []) { [self] message in
            guard let json = try? JSONParser.parse(message.data), let id = json["dispatchId"]?.stringValue,
                let follower = self.followers.withLock({ $0[id] })
            else { return }
            switch json["type"]?.stringValue {
            case "started": follower.deliver(.started(worker: json["worker"]?.stringValue ?? "?"))
            case "heartbeat": follower.deliver(.heartbeat)
            case "output":
                follower.deliver(.output(json["stream"] == "stderr" ? .stderr : .stdout, json["text"]?.stringValue ?? ""))
            default: return
            }
        }
        for subject in [WorkSubjects.presenceSubjects(prefix: prefix), WorkSubjects.legacyPresenceSubject(prefix: prefix)] {
            _ = try connection.subscribe(subject, headers: []) { [self] message in self.heard(message) }
        }
    }

    /// A worker's presence; one of another protocol version is listed with a warning (and logged once).
    private func heard(_ message: NATSMessage) {
        guard let json = try? JSONParser.parse(message.data), let id = json["id"]?.stringValue else { return }
        let namespace = json["namespace"]?.stringValue ?? WorkSubjects.namespace(of: message.subject, prefix: prefix) ?? "?"
        var seen = Presence(id: id, namespace: namespace, pool: json["pool"]?.stringValue ?? "",
                            executors: (json["executors"]?.arrayValue ?? []).compactMap(\.stringValue),
                            capacity: json["capacity"]?.intValue ?? 0, inFlight: json["inFlight"]?.intValue ?? 0,
                            version: json["protocol"]?.intValue ?? 0, lastSeen: .now(), seenMonotonic: Monitor.monotonicNow())
        if seen.version != WorkProtocol.version {
            let warning = "worker \(id) (pool \(seen.pool)) speaks work protocol \(seen.version); this Planter speaks "
                + "\(WorkProtocol.version): it gets no work from this Planter until it runs a planter worker of the server's version"
            seen.warning = warning
            if warned.withLock({ $0.insert("\(namespace)/\(id)/\(seen.version)").inserted }) { log(warning) }
        }
        presence.withLock { $0["\(namespace)/\(id)"] = seen }
    }

    /// Workers heard from in the last 10 seconds, by id.
    public var workers: [Presence] {
        let cutoff = Monitor.monotonicNow() - 10_000_000_000
        return presence.withLock { all in
            all = all.filter { $0.value.seenMonotonic >= cutoff }
            return all.values.sorted { ($0.namespace, $0.id) < ($1.namespace, $1.id) }
        }
    }

    // MARK: Streams (blocking; on the runner's thread)

    /// The subjects of a namespace's pools.
    public func subjects(_ namespace: String?) -> WorkSubjects { WorkSubjects(prefix: prefix, namespace: namespace ?? "default") }

    /// The streams, the results consumer and the pool's consumer exist; the results are being read.
    func prepare(pool: String, subjects: WorkSubjects, leaseMs: Int64, capacity: Int64) throws(NATSError) {
        try prepareStreams()
        let key = subjects.namespace + "/" + pool
        guard !pools.withLock({ $0.contains(key) }) else { return }
        if !namespaces.withLock({ $0.contains(subjects.namespace) }) {
            try jetStream.ensureStream(subjects.workStream, subjects: [subjects.workSubjects], retention: .workQueue)
            let stream = subjects.workStream
            _ = try connection.subscribe(subjects.maxDeliveriesAdvisories, headers: []) { [self] message in self.exhausted(stream, message) }
            _ = namespaces.withLock { $0.insert(subjects.namespace) }
        }
        // MaxDeliver 1: a lost attempt is failed by Planter, which publishes the next one.
        try jetStream.ensureConsumer(stream: subjects.workStream, durable: pool, filter: subjects.workSubject(pool),
                                     ackWaitNs: leaseMs * 1_000_000, maxDeliver: 1, maxAckPending: capacity)
        _ = pools.withLock { $0.insert(key) }
    }

    /// `{"stream_seq": N, "deliveries": D, "consumer": POOL, ...}`: to the attempt of that work item.
    private func exhausted(_ stream: String, _ message: NATSMessage) {
        guard let json = try? JSONParser.parse(message.data), let sequence = json["stream_seq"]?.intValue,
            let id = items.withLock({ $0.bySequence["\(stream)#\(sequence)"] }), let follower = followers.withLock({ $0[id] })
        else { return }
        follower.deliver(.exhausted(consumer: json["consumer"]?.stringValue ?? "?", deliveries: json["deliveries"]?.intValue ?? 0))
    }

    private func prepareStreams() throws(NATSError) {
        if !started.withLock({ $0 }) {
            let resultStream = WorkSubjects.resultStream(prefix: prefix), resultSubjects = WorkSubjects.resultSubjects(prefix: prefix)
            try jetStream.ensureStream(resultStream, subjects: [resultSubjects], retention: .limits, maxAgeNs: 7 * 86_400 * 1_000_000_000)
            try jetStream.ensureConsumer(stream: resultStream, durable: WorkSubjects.resultConsumer,
                                         filter: resultSubjects, ackWaitNs: 30_000_000_000, maxDeliver: -1, maxAckPending: 10_000)
            let subscription = try jetStream.pullSubscription(stream: resultStream, consumer: WorkSubjects.resultConsumer, subject: resultSubjects)
            let first = started.withLock { started -> Bool in
                defer { started = true }
                return !started
            }
            if first { startThread(name: "planter-results") { self.readResults(subscription) } }
        }
    }

    /// Hands each result to the attempt that waits for it, then acknowledges it; a result
    /// nobody waits for (an attempt already failed as lost, or of before a restart) is dropped.
    private func readResults(_ subscription: PullSubscription) {
        while !stopping.load(ordering: .relaxed) {
            let messages: [JetStreamMessage]
            do {
                messages = try subscription.fetch(batch: 64, timeoutMs: 1000)
            } catch {
                sleepMs(500)
                continue
            }
            if messages.isEmpty { emptyFetches.add(1, ordering: .relaxed) }
            for message in messages {
                if let json = try? JSONParser.parse(message.message.data), let id = json["dispatchId"]?.stringValue {
                    var result = ExecuteResult.decode(json["result"] ?? .null, executor: "remote")
                    result.worker = json["worker"]?.stringValue
                    if let follower = followers.withLock({ $0[id] }) {
                        follower.deliver(.result(result, outputEvents: json["outputEvents"]?.intValue ?? 0))
                    } else if let runId = json["runId"]?.stringValue, let phaseId = json["phaseId"]?.stringValue,
                        collect(runId: runId, phaseId: phaseId, attempt: json["attempt"]?.intValue ?? 0, result) {
                        log("collected the result of phase \(phaseId) of run \(runId) (\(result.status.rawValue) on \(result.worker ?? "?")), "
                            + "which ended while Planter was down")
                    } else {
                        log("dropped the result of dispatch \(id) (\(json["worker"]?.stringValue ?? "?")): its attempt had already ended")
                    }
                }
                try? message.ack()
            }
        }
        subscription.close()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func collect(runId: String, phaseId: String, attempt: Int, _ result: ExecuteResult) -> Bool {
        collecting.withLock { all in
            guard all[runId] != nil else { return false }
            if let known = all[runId]?[phaseId], known.attempt > attempt { return true }
            all[runId]?[phaseId] = (attempt, result)
            return true
        }
    }

    /// After a restart, before run `runId` resumes (blocking, a few seconds at most): every
    /// worker cancels what the run left running there (so a resumed attempt never overlaps the
    /// old one), and the results of its attempts that ended while Planter was down are read
    /// from the results stream. Phase id → the last such result.
    public func recover(runId: String, namespace: String, waitMs: Int64 = 5000) -> [String: ExecuteResult] {
        collecting.withLock { $0[runId] = [:] }
        defer { collecting.withLock { $0[runId] = nil } }
        do { try prepareStreams() } catch {
            log("cannot read the results of run \(runId) left on workers: \(error)")
            return [:]
        }
        let deadline = Monitor.monotonicNow() + waitMs * 1_000_000
        // Every worker answers with how many attempts of the run it cancels.
        let inbox = "_INBOX.planter-recover.\(Self.random())"
        let answers = Mutex<(workers: Int, cancelling: Int)>((0, 0))
        if let replies = try? connection.subscribe(inbox, headers: [], handler: { message in
            let count = (try? JSONParser.parse(message.data))?["cancelling"]?.intValue ?? 0
            answers.withLock { $0 = ($0.workers + 1, $0.cancelling + count) }
        }) {
            try? connection.publish(subjects(namespace).runControlSubject(runId),
                                    WorkProtocol.encode(["runId": .string(runId), "reason": "Planter restarted; the run resumes from its last state"]),
                                    reply: inbox)
            sleepMs(1000)
            connection.unsubscribe(replies)
        }
        let cancelling = answers.withLock { $0.cancelling }
        // The cancelled attempts' results come once their processes are gone; then the backlog is read.
        let fetched = emptyFetches.load(ordering: .relaxed)
        while Monitor.monotonicNow() < deadline {
            let cancelled = collecting.withLock { $0[runId]?.values.filter { $0.result.status == .cancelled }.count ?? 0 }
            if cancelled >= cancelling && emptyFetches.load(ordering: .relaxed) >= fetched + 1 { break }
            sleepMs(50)
        }
        return collecting.withLock { $0[runId] ?? [:] }.mapValues(\.result)
    }

    static func random() -> String { String(UInt64.random(in: 0...UInt64.max), radix: 16) }

    // MARK: Dispatches

    func follow(_ dispatchId: String) -> Mailbox<Arrival> {
        let mailbox = Mailbox<Arrival>()
        followers.withLock { $0[dispatchId] = mailbox }
        return mailbox
    }

    func forget(_ dispatchId: String) {
        _ = followers.withLock { $0.removeValue(forKey: dispatchId) }
        items.withLock { items in
            if let key = items.byDispatch.removeValue(forKey: dispatchId) { items.bySequence[key] = nil }
        }
    }

    func publish(_ dispatch: WorkProtocol.Dispatch, subjects: WorkSubjects) throws(NATSError) -> UInt64 {
        let request = dispatch.request
        // The same attempt published twice (a retry of the publish) is one work item.
        let sequence = try jetStream.publish(subjects.workSubject(dispatch.pool), dispatch.encoded(),
                                             messageId: "\(request.runId)/\(request.phaseId)/\(request.attempt)/\(dispatch.dispatchId)").sequence
        let key = "\(subjects.workStream)#\(sequence)"
        items.withLock { items in
            items.bySequence[key] = dispatch.dispatchId
            items.byDispatch[dispatch.dispatchId] = key
        }
        return sequence
    }

    /// Takes a work item out of the queue (nobody took it, its worker was lost, or it ran out of
    /// deliveries: JetStream keeps such items in a work queue, nats-server #5564).
    func withdraw(_ sequence: UInt64, subjects: WorkSubjects) {
        guard sequence > 0 else { return }
        try? jetStream.deleteMessage(stream: subjects.workStream, sequence: sequence)
    }

    /// Asks the worker running it to cancel; true once it confirmed.
    func requestCancel(_ dispatchId: String, subjects: WorkSubjects, reason: String) -> Bool {
        let body = WorkProtocol.encode(["dispatchId": .string(dispatchId), "reason": .string(reason)])
        guard let reply = try? connection.requestBlocking(subjects.controlSubject(dispatchId), body, timeoutMs: 1000) else { return false }
        return (try? JSONParser.parse(reply.data))?["cancelling"] == true
    }
}

func sleepMs(_ milliseconds: Int64) { usleep(UInt32(clamping: milliseconds * 1000)) }
