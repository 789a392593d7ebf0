import ExecutorRuntime
import PlanterCore
import PlanterJSON
import PlanterMessaging

/// The executor of a `remote: {pool: NAME}` deployment entry: each attempt is one work item on
/// the pool's queue. It waits for a worker to start it (`scheduleTimeoutMs`, separate from the
/// phase's `x-timeout`), follows its output and heartbeats, and returns the worker's result;
/// a worker silent for `leaseMs` is lost (the attempt fails saying so, and the phase's retry
/// policy publishes the next attempt); a cancel is re-sent until the worker confirms it.
public struct RemotePoolExecutor: Executor {
    let dispatcher: RemoteDispatcher
    let pool: String
    let scheduleTimeoutMs: Int64
    let leaseMs: Int64

    public init(dispatcher: RemoteDispatcher, pool: String, scheduleTimeoutMs: Int64?, leaseMs: Int64?) {
        self.dispatcher = dispatcher
        self.pool = pool
        self.scheduleTimeoutMs = scheduleTimeoutMs ?? 60_000
        self.leaseMs = leaseMs ?? 30_000
    }

    public func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        let dispatchId = Self.newDispatchId()
        let mailbox = dispatcher.follow(dispatchId)
        defer { dispatcher.forget(dispatchId) }
        let scheduleTimeoutMs = request.scheduleTimeoutMs.map(Int64.init) ?? self.scheduleTimeoutMs
        let scheduleDeadline = Monitor.monotonicNow() + scheduleTimeoutMs * 1_000_000
        let stop = { call.isCancelled }
        // The run's namespace's queue: workers of another namespace never see it.
        let subjects = dispatcher.subjects(request.namespace)

        // Published (retried while NATS is away, until the schedule timeout).
        var sequence: UInt64 = 0
        var lastError = ""
        while sequence == 0 {
            do {
                try dispatcher.prepare(pool: pool, subjects: subjects, leaseMs: leaseMs, capacity: 10_000)
                sequence = try dispatcher.publish(WorkProtocol.Dispatch(dispatchId: dispatchId, pool: pool, leaseMs: leaseMs, request: request),
                                                  subjects: subjects)
            } catch {
                lastError = error.description
                if call.isCancelled { return ExecuteResult(status: .cancelled, message: call.reason ?? "cancelled") }
                if Monitor.monotonicNow() >= scheduleDeadline {
                    return .failed("could not hand phase \(request.phaseId) to pool \(pool) within \(scheduleTimeoutMs) ms: \(lastError)")
                }
                sleepMs(250)
            }
        }

        // Waiting for a worker to take it.
        var worker: String?
        while worker == nil {
            switch mailbox.next(until: scheduleDeadline, stop: stop) {
            case .started(let who)?: worker = who
            case .result(var result, _)?:
                result.worker = result.worker ?? "?"
                return result
            case .output?, .heartbeat?: continue
            case .exhausted(let consumer, let deliveries)?:
                // Taken by a worker that never said so and went silent (its `started` lost, or it died
                // right after the fetch): no need to wait for the schedule timeout.
                dispatcher.withdraw(sequence, subjects: subjects)
                return .failed("phase \(request.phaseId)'s work item was delivered \(deliveries) time(s) to pool \(consumer)"
                    + (consumer == pool ? "" : " (pool \(pool))") + " and no worker finished or renewed it within the lease "
                    + "(\(leaseMs) ms; JetStream's MAX_DELIVERIES advisory): the worker that took it was lost")
            case nil:
                dispatcher.withdraw(sequence, subjects: subjects)
                if call.isCancelled { return ExecuteResult(status: .cancelled, message: call.reason ?? "cancelled before a worker took it") }
                return .failed("no worker of pool \(pool) took phase \(request.phaseId) within \(scheduleTimeoutMs) ms "
                    + "(the phase's x-scheduleTimeout, else the executor's scheduleTimeout); is a planter worker --pool \(pool) running?")
            }
        }
        let name = worker ?? "?"

        // Running on `name`.
        var lastBeat = Monitor.monotonicNow()
        var outputEvents = 0
        while true {
            switch mailbox.next(until: lastBeat + leaseMs * 1_000_000, stop: stop) {
            case .result(var result, let sent)?:
                result.worker = result.worker ?? name
                // Output comes over core NATS, the result over JetStream: what is still on its way
                // gets a moment (core NATS may have dropped some; the result does not wait for those).
                let settle = Monitor.monotonicNow() + 1_000_000_000
                while outputEvents < sent, let next = mailbox.next(until: settle, stop: { false }) {
                    guard case .output(let stream, let text) = next else { continue }
                    emit(text, stream, call)
                    outputEvents += 1
                }
                return result
            case .output(let stream, let text)?:
                emit(text, stream, call)
                outputEvents += 1
                lastBeat = Monitor.monotonicNow()
            case .heartbeat?, .started?:
                lastBeat = Monitor.monotonicNow()
            case .exhausted(let consumer, _)?:
                dispatcher.withdraw(sequence, subjects: subjects)
                var lost = ExecuteResult.failed("worker \(name) of pool \(consumer) lost: its lease ran out without a renewal "
                    + "(JetStream's MAX_DELIVERIES advisory; its result, if one comes, is dropped)")
                lost.worker = name
                return lost
            case nil:
                if call.isCancelled { return cancel(dispatchId, on: name, subjects: subjects, mailbox: mailbox, call: call) }
                dispatcher.withdraw(sequence, subjects: subjects)
                var lost = ExecuteResult.failed("worker \(name) lost: no heartbeat for \(leaseMs) ms (its result, if one comes, is dropped)")
                lost.worker = name
                return lost
            }
        }
    }

    /// Re-sends the cancel until the worker confirms, then waits (one lease at most) for its result.
    private func cancel(_ dispatchId: String, on worker: String, subjects: WorkSubjects, mailbox: Mailbox<RemoteDispatcher.Arrival>,
                        call: CallContext) -> ExecuteResult {
        let reason = call.reason ?? "cancelled"
        let deadline = Monitor.monotonicNow() + leaseMs * 1_000_000
        var confirmed = false
        while Monitor.monotonicNow() < deadline {
            if !confirmed { confirmed = dispatcher.requestCancel(dispatchId, subjects: subjects, reason: reason) }
            if case .result(var result, _)? = mailbox.next(until: Monitor.monotonicNow() + 500_000_000, stop: { false }) {
                result.worker = result.worker ?? worker
                if result.status == .succeeded { return result }
                result.status = .cancelled
                return result
            }
        }
        var result = ExecuteResult(status: .cancelled, message: confirmed ? reason : "\(reason) (worker \(worker) did not confirm the cancel)")
        result.worker = worker
        return result
    }

    private func emit(_ text: String, _ stream: OutputChannel, _ call: CallContext) {
        var text = text
        text.withUTF8 { call.output(stream, UnsafeRawBufferPointer($0)) }
    }

    static func newDispatchId() -> String {
        (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined(separator: "")
    }
}
