import ExecutorRuntime
import PlanterCore
import PlanterDeployment
import PlanterJSON
import PlanterMessaging
import PlanterWorkers
import Synchronization

/// The protocol's hybrid model: an external runtime executes a session's phases. For each
/// phase that becomes ready Planter publishes `.target` `{"phaseId", "reason": "dependencies
/// satisfied"}`, waits for `.ack` `{"phaseId", "accepted", "queued"}` (a refusal, or none within
/// `ackTimeout`, fails the attempt with that reason and the retry policy applies), then takes the
/// runtime's `.state` messages as the phase's progress (`complete`/`failed` end the attempt) and
/// its `.log` messages as the phase's output.
final class SessionRuntime: Sendable {
    /// One attempt waiting for its runtime's messages.
    typealias Waiter = Mailbox<Arrival>

    enum Arrival: Sendable {
        case ack(accepted: Bool, reason: String?)
        case state(status: String, message: String?)
        case log(level: LogLevel, message: String)
    }

    struct Key: Hashable {
        let session: SessionTable.Key
        let phaseId: String
    }

    private let waiters = Mutex<[Key: Waiter]>([:])

    func expect(_ key: Key) -> Waiter {
        let waiter = Waiter()
        waiters.withLock { $0[key] = waiter }
        return waiter
    }

    func forget(_ key: Key) { _ = waiters.withLock { $0.removeValue(forKey: key) } }

    /// A runtime's `.ack`, `.state` or `.log`: to the attempt waiting for it, if any (a message for
    /// a phase nobody waits for is someone else's: an observer's, or a late one).
    func receive(_ session: SessionTable.Key, _ kind: SessionSubjects.Kind, _ data: [UInt8]) {
        guard let json = try? JSONParser.parse(data), let phaseId = json["phaseId"]?.stringValue,
            let waiter = waiters.withLock({ $0[Key(session: session, phaseId: phaseId)] })
        else { return }
        switch kind {
        case .ack:
            waiter.deliver(.ack(accepted: json["accepted"]?.boolValue ?? false, reason: json["reason"]?.stringValue))
        case .state:
            guard let status = json["status"]?.stringValue else { return }
            waiter.deliver(.state(status: status, message: json["message"]?.stringValue))
        case .log:
            let level = json["level"]?.stringValue.flatMap { name in LogLevel.allCases.first { $0.name == name } } ?? .info
            waiter.deliver(.log(level: level, message: json["message"]?.stringValue ?? ""))
        default:
            return
        }
    }
}

/// The executor of a `session: {runtime: true}` deployment entry.
struct SessionRuntimeExecutor: Executor {
    let sessions: SessionBridge
    let ackTimeoutMs: Int64

    func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        guard let session = sessions.table.key(ofRun: request.runId) else {
            return .failed("run \(request.runId) has no session: a session runtime executes phases of runs mirrored on NATS")
        }
        let key = SessionRuntime.Key(session: session, phaseId: request.phaseId)
        let waiter = sessions.runtime.expect(key)
        defer { sessions.runtime.forget(key) }
        var target = JSONObject()
        target.appendUnchecked("phaseId", .string(request.phaseId))
        target.appendUnchecked("reason", "dependencies satisfied")
        target.appendUnchecked("runId", .string(request.runId))
        target.appendUnchecked("attempt", .int(Int64(request.attempt)))
        target.appendUnchecked("payload", request.payload)
        target.appendUnchecked("inputs", .object(request.inputs))
        sessions.publish(sessions.subjects.subject(session.namespace, session.session, .target), SessionMessages.encode(.object(target)))
        let stop = { call.isCancelled }
        let ackDeadline = Monitor.monotonicNow() + ackTimeoutMs * 1_000_000
        var acknowledged = false
        while !acknowledged {
            switch waiter.next(until: ackDeadline, stop: stop) {
            case .ack(let accepted, let reason)?:
                guard accepted else { return .failed("the session's runtime refused phase \(request.phaseId)" + (reason.map { ": \($0)" } ?? "")) }
                acknowledged = true
            case .state?, .log?:
                // A runtime that skips the ack and reports straight away has accepted it.
                acknowledged = true
            case nil:
                if call.isCancelled { return cancelled(session, request, call) }
                return .failed("no .ack from the session's runtime within \(ackTimeoutMs) ms for phase \(request.phaseId)")
            }
        }
        while true {
            switch waiter.next(until: .max, stop: stop) {
            case .state(let status, let message)?:
                switch status {
                case "complete": return ExecuteResult(status: .succeeded, message: message ?? "")
                case "failed": return .failed(message ?? "the session's runtime reported phase \(request.phaseId) failed")
                default: continue
                }
            case .log(let level, let message)?:
                var line = message + "\n"
                if level >= .warning { line.withUTF8 { call.output(.stderr, UnsafeRawBufferPointer($0)) } }
                else { line.withUTF8 { call.output(.stdout, UnsafeRawBufferPointer($0)) } }
            case .ack?:
                continue
            case nil:
                return cancelled(session, request, call)
            }
        }
    }

    /// Tells the runtime (a `.control` cancel naming the phase) and ends the attempt.
    private func cancelled(_ session: SessionTable.Key, _ request: ExecuteRequest, _ call: CallContext) -> ExecuteResult {
        let reason = call.reason ?? "cancelled"
        sessions.publish(sessions.subjects.subject(session.namespace, session.session, .control),
                         SessionMessages.encode(["command": "cancel", "phaseId": .string(request.phaseId), "reason": .string(reason)]))
        return ExecuteResult(status: .cancelled, message: reason)
    }
}

extension SessionBridge {
    /// The factory of executors served over NATS, for the deployment.
    var externalExecutors: ExternalExecutorFactory {
        { [self] _, external in
            switch external {
            case .sessionRuntime(let ackTimeout):
                runtimeWanted.withLock { $0 = true }
                return .success(SessionRuntimeExecutor(sessions: self, ackTimeoutMs: ackTimeout?.milliseconds ?? 10_000))
            case .remotePool(let pool, let scheduleTimeout, let lease):
                do {
                    return .success(RemotePoolExecutor(dispatcher: try dispatcher(), pool: pool, scheduleTimeoutMs: scheduleTimeout?.milliseconds,
                                                       leaseMs: lease?.milliseconds))
                } catch {
                    return .failure(ExternalExecutorUnavailable("pool \(pool): \(error)"))
                }
            }
        }
    }
}
