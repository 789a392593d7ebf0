import PlanterCore
import PlanterHost
import PlanterJSON

/// Mirrors a namespace's runs on their sessions: each event of a run bound to a session
/// becomes that session's `.state` (phase transitions), `.log` (output and log lines) or
/// `.events` (the run's lifecycle). Called on the runner's threads: it encodes and hands the
/// message to nats.c's buffer, nothing more.
final class SessionMirror: EventSink {
    let namespace: String
    let sessions: SessionBridge

    init(namespace: String, sessions: SessionBridge) {
        self.namespace = namespace
        self.sessions = sessions
    }

    func receive(_ event: RunEvent) {
        guard !event.runId.isEmpty, let key = sessions.table.key(ofRun: event.runId) else { return }
        let subject = { (kind: SessionSubjects.Kind) in self.sessions.subjects.subject(key.namespace, key.session, kind) }
        switch event.kind {
        case .runStarted:
            sessions.table.update(key) { $0.status = "running" }
            sessions.publish(subject(.events), SessionMessages.event("started", sessionId: key.session, runId: event.runId, time: event.time,
                                                                     message: event.message, extra: ["namespace": .string(namespace)]))
        case .attemptStarted:
            guard let phaseId = event.phaseId else { return }
            sessions.publish(subject(.state), SessionMessages.state(phaseId: phaseId, status: "running", planterStatus: "running",
                                                                    runId: event.runId, attempt: event.attempt, time: event.time))
        case .phaseFinished, .phaseSkipped:
            guard let phaseId = event.phaseId else { return }
            let status = event.details["status"]?.stringValue ?? "failed"
            // Left out (unchanged, not part of a rerun) is done as far as the session goes.
            let word = status == "succeeded" || (status == "skipped" && event.details["blocked"] == nil) ? "complete" : "failed"
            sessions.publish(subject(.state), SessionMessages.state(phaseId: phaseId, status: word, planterStatus: status,
                                                                    runId: event.runId, attempt: event.attempt, time: event.time,
                                                                    message: event.message))
        case .output:
            sessions.publish(subject(.log), SessionMessages.log(phaseId: event.phaseId, level: event.level, message: event.message,
                                                                time: event.time, stream: event.details["stream"]?.stringValue))
        case .log:
            if let control = event.details["control"]?.stringValue {
                sessions.publish(subject(.events), SessionMessages.event(control == "pause" ? "paused" : "resumed", sessionId: key.session,
                                                                         runId: event.runId, time: event.time, message: event.message))
            }
            sessions.publish(subject(.log), SessionMessages.log(phaseId: event.phaseId, level: event.level, message: event.message,
                                                                time: event.time))
        case .attemptFinished, .retryScheduled, .handlerMessage, .notify:
            guard !event.message.isEmpty else { return }
            sessions.publish(subject(.log), SessionMessages.log(phaseId: event.phaseId, level: event.level, message: event.message,
                                                                time: event.time))
        case .runFinished:
            let status = event.details["status"]?.stringValue ?? "failed"
            let word = status == "succeeded" ? "finished" : status == "cancelled" ? "cancelled" : "failed"
            sessions.table.update(key) { $0.status = status == "succeeded" ? "complete" : status == "cancelled" ? "cancelled" : "failed" }
            sessions.publish(subject(.events), SessionMessages.event(word, sessionId: key.session, runId: event.runId, time: event.time,
                                                                     message: event.message, extra: ["status": .string(status),
                                                                                                     "durationMs": event.details["durationMs"] ?? .null]))
        }
    }
}
