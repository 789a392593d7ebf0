import ExecutorRuntime
import PlanterCore
import PlanterDeployment
import PlanterJSON
import PlanterMessaging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `planter worker`: serves phases of one pool with the executors of its own deployment
/// config. It fetches one work item per free slot (no prefetch: an item waits on the queue,
/// not in a busy worker's buffer), runs it on a thread of its own, renews the item's lease
/// while it runs (a confirmed `+WPI`, and a heartbeat Planter hears), publishes the result
/// durably and only then acknowledges the item. SIGTERM drains: no new item is fetched, what
/// runs may finish within the grace period, then it is cancelled.
public final class WorkerProgram: Sendable {
    public struct Options: Sendable {
        public var nats: NATSSettings
        /// The namespace (and `PLANTER_NATS_PREFIX`) whose work this worker takes.
        public var subjects: WorkSubjects
        public var pool: String
        public var id: String
        public var capacity: Int
        public var grace: Duration
        public init(nats: NATSSettings, subjects: WorkSubjects, pool: String, id: String, capacity: Int, grace: Duration) {
            self.nats = nats
            self.subjects = subjects
            self.pool = pool
            self.id = id
            self.capacity = capacity
            self.grace = grace
        }
    }

    let options: Options
    var subjects: WorkSubjects { options.subjects }
    let setup: DeploymentSetup
    let connection: NATSConnection
    let jetStream: JetStream
    /// Dispatches in flight: their call (to cancel) and run.
    private let running = Mutex<[String: (call: CallContext, runId: String)]>([:])
    private let draining = Atomic<Bool>(false)
    private let slots: Mailbox<Bool>
    private let log: @Sendable (String) -> Void

    public init(options: Options, setup: DeploymentSetup, log: @escaping @Sendable (String) -> Void) throws(NATSError) {
        self.options = options
        self.setup = setup
        self.log = log
        var nats = options.nats
        nats.name = "planter worker \(options.id)"
        connection = try NATSConnection.connect(nats) { event in log("NATS \(event)") }
        jetStream = try JetStream(connection)
        slots = Mailbox()
    }

    /// Serves until `drain()`; returns once everything in flight has ended.
    public func run() {
        // The phases' processes see which worker ran them.
        setenv("PLANTER_WORKER_ID", options.id, 1)
        let control = try? connection.subscribe(subjects.controlSubjects, headers: []) { [self] message in
            guard let json = try? JSONParser.parse(message.data), let id = json["dispatchId"]?.stringValue,
                let call = running.withLock({ $0[id]?.call })
            else { return }
            call.cancel(reason: json["reason"]?.stringValue ?? "cancelled by Planter")
            if let reply = message.reply { try? connection.publish(reply, WorkProtocol.encode(["cancelling": true, "worker": .string(options.id)])) }
        }
        // A restarted Planter cancels what its interrupted run left on the workers before it resumes it.
        let runControl = try? connection.subscribe(subjects.runControlSubjects, headers: []) { [self] message in
            guard let json = try? JSONParser.parse(message.data), let runId = json["runId"]?.stringValue else { return }
            let calls = running.withLock { $0.values.filter { $0.runId == runId }.map(\.call) }
            for call in calls { call.cancel(reason: json["reason"]?.stringValue ?? "cancelled by Planter") }
            if let reply = message.reply {
                try? connection.publish(reply, WorkProtocol.encode(["cancelling": .int(Int64(calls.count)), "worker": .string(options.id)]))
            }
        }
        startThread(name: "planter-worker-presence") { [self] in
            while !draining.load(ordering: .relaxed) {
                publishPresence()
                sleepMs(2000)
            }
        }
        var subscription: PullSubscription?
        while !draining.load(ordering: .relaxed) {
            let free = options.capacity - running.withLock { $0.count }
            if free <= 0 {
                _ = slots.next(until: Monitor.monotonicNow() + 1_000_000_000, stop: { self.draining.load(ordering: .relaxed) })
                continue
            }
            do {
                if subscription == nil { subscription = try bind() }
                for item in try subscription!.fetch(batch: free, timeoutMs: 1000) { start(item) }
            } catch {
                log("cannot fetch work of pool \(options.pool) yet: \(error)")
                subscription = nil
                sleepMs(1000)
            }
        }
        subscription?.close()
        // Draining: what runs may finish within the grace period, then it is cancelled.
        let graceDeadline = Monitor.monotonicNow() + Int64(options.grace.components.seconds) * 1_000_000_000
        while running.withLock({ !$0.isEmpty }) {
            if Monitor.monotonicNow() >= graceDeadline {
                for entry in running.withLock({ Array($0.values) }) { entry.call.cancel(reason: "worker \(options.id) is shutting down") }
            }
            _ = slots.next(until: Monitor.monotonicNow() + 200_000_000, stop: { false })
        }
        if let control { connection.unsubscribe(control) }
        if let runControl { connection.unsubscribe(runControl) }
        connection.close()
        setup.registry.close()
    }

    public func drain() {
        draining.store(true, ordering: .relaxed)
        slots.deliver(true)
    }

    /// The queue and the pool's consumer (the same configuration Planter makes; whoever comes first).
    private func bind() throws(NATSError) -> PullSubscription {
        try jetStream.ensureStream(subjects.workStream, subjects: [subjects.workSubjects], retention: .workQueue)
        try jetStream.ensureConsumer(stream: subjects.workStream, durable: options.pool, filter: subjects.workSubject(options.pool),
                                     ackWaitNs: 30_000_000_000, maxDeliver: 1, maxAckPending: 10_000)
        return try jetStream.pullSubscription(stream: subjects.workStream, consumer: options.pool, subject: subjects.workSubject(options.pool))
    }

    private func publishPresence() {
        let executors = setup.registry.bindings.map { JSON.string($0.name) }
        let body = WorkProtocol.encode(["id": .string(options.id), "namespace": .string(subjects.namespace), "pool": .string(options.pool), "executors": .array(executors),
                                        "capacity": .int(Int64(options.capacity)), "inFlight": .int(Int64(running.withLock { $0.count })),
                                        "protocol": .int(Int64(WorkProtocol.version))])
        try? connection.publish(subjects.presenceSubject, body)
    }

    private func start(_ item: JetStreamMessage) {
        let dispatch: WorkProtocol.Dispatch
        switch WorkProtocol.Dispatch.decode(item.message.data) {
        case .success(let decoded): dispatch = decoded
        case .failure(let refusal):
            log("refused a work item: \(refusal.message)")
            try? item.terminate()
            if let id = refusal.dispatchId { publishResult(id, nil, .failed("worker \(options.id) refused the work item: \(refusal.message)")) }
            return
        }
        let sent = OutputCount()
        // Built once per item: output events come by the thousand.
        let masker = masker(dispatch)
        let call = CallContext(output: { [self] stream, bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            sent.value.add(1, ordering: .relaxed)
            try? connection.publish(subjects.eventSubject(dispatch.dispatchId), WorkProtocol.event(
                "output", dispatchId: dispatch.dispatchId, worker: options.id,
                extra: ["stream": stream == .stderr ? "stderr" : "stdout", "text": .string(masker.mask(text))]))
        })
        running.withLock { $0[dispatch.dispatchId] = (call, dispatch.request.runId) }
        try? connection.publish(subjects.eventSubject(dispatch.dispatchId),
                                WorkProtocol.event("started", dispatchId: dispatch.dispatchId, worker: options.id,
                                                   extra: ["deliveries": .int(Int64(clamping: item.deliveries))]))
        startThread(name: "planter-worker-phase") { [self] in
            let finished = Finished()
            startThread(name: "planter-worker-lease") { self.renewLease(item, dispatch, call, finished) }
            let result = execute(dispatch, call, masker: masker)
            finished.flag.store(true, ordering: .relaxed)
            publishResult(dispatch.dispatchId, dispatch.request, result, outputEvents: sent.value.load(ordering: .relaxed))
            try? item.ack()
            running.withLock { _ = $0.removeValue(forKey: dispatch.dispatchId) }
            slots.deliver(true)
        }
    }

    private func execute(_ dispatch: WorkProtocol.Dispatch, _ call: CallContext, masker: SecretMasker) -> ExecuteResult {
        var request = dispatch.request
        switch setup.registry.resolve(labels: request.labels) {
        case .success(let binding):
            request.secrets.merge(binding.secrets) { server, _ in server }
            var result = binding.executor.execute(request, call: call)
            if !masker.isEmpty {
                result.message = masker.mask(result.message)
                result.output = result.output.map(masker.mask)
                result.outputs = masker.mask(.object(result.outputs)).objectValue ?? JSONObject()
            }
            return result
        case .failure(let error):
            return ExecuteResult(status: .invalid, message: "worker \(options.id) (pool \(options.pool)): \(error)")
        }
    }

    private func masker(_ dispatch: WorkProtocol.Dispatch) -> SecretMasker {
        SecretMasker(secrets: Array(dispatch.request.secrets.values) + setup.registry.masker.secrets)
    }

    /// Every quarter lease: a confirmed `+WPI` and a heartbeat. When the server has not confirmed
    /// one for half the lease, this worker may be cut off: it stops the phase itself, before
    /// Planter calls it lost and runs the next attempt elsewhere.
    private func renewLease(_ item: JetStreamMessage, _ dispatch: WorkProtocol.Dispatch, _ call: CallContext, _ finished: Finished) {
        let interval = max(50, dispatch.leaseMs / 4)
        var confirmed = Monitor.monotonicNow()
        while !finished.flag.load(ordering: .relaxed) {
            sleepMs(interval)
            if finished.flag.load(ordering: .relaxed) { return }
            if (try? item.inProgress(timeoutMs: interval)) != nil { confirmed = Monitor.monotonicNow() }
            try? connection.publish(subjects.eventSubject(dispatch.dispatchId),
                                    WorkProtocol.event("heartbeat", dispatchId: dispatch.dispatchId, worker: options.id))
            if Monitor.monotonicNow() - confirmed > dispatch.leaseMs * 500_000 {
                call.cancel(reason: "worker \(options.id) could not renew its lease for \(dispatch.leaseMs / 2) ms; "
                    + "it stopped the phase so that no second copy overlaps")
                return
            }
        }
    }

    /// How many output events a dispatch published (its result says, so Planter waits for them all).
    final class OutputCount: Sendable { let value = Atomic<Int>(0) }

    /// Set once the attempt has ended (the lease stops being renewed).
    final class Finished: Sendable { let flag = Atomic<Bool>(false) }

    /// Durably, retried while NATS is away (for two leases at most: by then Planter has failed the attempt).
    private func publishResult(_ dispatchId: String, _ request: ExecuteRequest?, _ result: ExecuteResult, outputEvents: Int = 0) {
        let body = WorkProtocol.result(dispatchId: dispatchId, worker: options.id, request: request, result, outputEvents: outputEvents)
        let deadline = Monitor.monotonicNow() + 60_000_000_000
        while true {
            do {
                try jetStream.publish(subjects.resultSubject(dispatchId), body, messageId: "\(dispatchId)/result")
                return
            } catch {
                if Monitor.monotonicNow() >= deadline {
                    log("gave up publishing the result of \(dispatchId): \(error)")
                    return
                }
                sleepMs(500)
            }
        }
    }
}
