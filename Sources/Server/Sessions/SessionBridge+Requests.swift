import PlanterCore
import PlanterHost
import PlanterJSON

/// What a tool asks of a session: `.start`, `.control`, `.get_state`, `.diff`. Each answer is
/// also the reply when the message had a reply subject; what a `.start` did is announced on
/// the session's `.events` as well, so a tool that only publishes still hears of it.
extension SessionBridge {
    func start(_ key: SessionTable.Key, _ data: [UInt8]) async -> JSON {
        let events = subjects.subject(key.namespace, key.session, .events)
        let start: SessionMessages.Start
        switch SessionMessages.readStart(data) {
        case .value(let read): start = read
        case .problems(let problems): return refuse(key, "invalid", "the .start message is invalid", problems: problems)
        }
        if let existing = table.record(key), existing.status == "running" || existing.status == "queued" || existing.status == "starting" {
            let message = "session \(key.session) already has run \(existing.runId ?? existing.planId ?? "") \(existing.status); "
                + "start another session, or cancel this one first"
            let answer: JSON = ["event": "rejected", "error": .string(message)]
            publish(events, SessionMessages.event("rejected", sessionId: key.session, runId: existing.runId, message: message))
            return answer
        }
        table.put(key, SessionTable.Record(origin: .nats, status: "starting"))
        let answer: JSON
        do {
            let service = try await service(key.namespace, for: start.manifest, dryRun: start.dryRun)
            let options = SubmitOptions(dryRun: start.dryRun, queue: true, triggeredBy: "nats", session: key.session)
            answer = try await service.submit(start.manifest, options: options)
        } catch let error as ServiceError {
            if case .invalid(let problems) = error { return refuse(key, "invalid", "the plan is invalid", problems: problems) }
            return refuse(key, "rejected", error.description)
        } catch let error as APIError {
            return refuse(key, "rejected", error.message)
        } catch {
            return refuse(key, "rejected", "\(error)")
        }
        if start.dryRun {
            table.update(key) { $0.status = "dryRun"; $0.answer = answer }
            publish(events, SessionMessages.event("dryRun", sessionId: key.session, runId: nil, extra: ["result": answer]))
        } else if answer["queued"] == true {
            table.update(key) { record in
                if record.status == "starting" { record.status = "queued" }
                record.planId = answer["planId"]?.stringValue
            }
            publish(events, SessionMessages.event("queued", sessionId: key.session, runId: nil,
                                                  message: "queued behind run \(answer["runningRunId"]?.stringValue ?? "")",
                                                  extra: ["planId": answer["planId"] ?? .null, "position": answer["position"] ?? .null]))
        }
        // A run that started was bound (and its `started` published) as it began.
        return answer
    }

    /// Records and announces a `.start` that ran nothing.
    private func refuse(_ key: SessionTable.Key, _ event: String, _ message: String, problems: [Problem] = []) -> JSON {
        var extra = JSONObject()
        if !problems.isEmpty { extra["problems"] = SessionMessages.problemsJSON(problems) }
        table.put(key, SessionTable.Record(origin: .nats, status: event, answer: extra["problems"]))
        publish(subjects.subject(key.namespace, key.session, .events),
                SessionMessages.event(event, sessionId: key.session, runId: nil, message: message, extra: extra))
        var answer: JSONObject = ["event": .string(event), "error": .string(message)]
        if let problems = extra["problems"] { answer["problems"] = problems }
        return .object(answer)
    }

    func control(_ key: SessionTable.Key, _ data: [UInt8]) async -> JSON {
        let command: SessionMessages.Command
        switch SessionMessages.readControl(data) {
        case .value(let read): command = read
        case .problems(let problems):
            return ["error": .string(problems.first?.message ?? "invalid"), "path": .string(problems.first?.path ?? "")]
        }
        // Published on the session's log, as the original Planter's peer does.
        publish(subjects.subject(key.namespace, key.session, .log),
                SessionMessages.log(phaseId: nil, level: .info, message: "Control command received: \(command.rawValue)", time: .now()))
        guard let record = table.record(key) else { return ["error": .string("no session \(key.session) on this Planter")] }
        do {
            let service = try await service(key.namespace)
            switch (command, record.runId, record.planId) {
            case (.cancel, let runId?, _):
                return try await service.cancel(runOrQueuedPlan: runId)
            case (.cancel, nil, let planId?) where record.status == "queued":
                let answer = try await service.cancel(runOrQueuedPlan: planId)
                table.update(key) { $0.status = "cancelled" }
                publish(subjects.subject(key.namespace, key.session, .events),
                        SessionMessages.event("cancelled", sessionId: key.session, runId: nil, message: "taken off the queue"))
                return answer
            case (.pause, let runId?, _), (.resume, let runId?, _):
                return try await service.setPaused(command == .pause, runId: runId)
            default:
                return ["error": .string("session \(key.session) has no run to \(command.rawValue) (it is \(record.status))")]
            }
        } catch let error as ServiceError {
            return ["error": .string(error.description)]
        } catch {
            return ["error": .string("\(error)")]
        }
    }

    /// `.get_state`: where the session stands: its run's status, each phase's status (in the
    /// protocol's words, and Planter's), paused or not, and the run's result.
    func state(_ key: SessionTable.Key) async -> JSON {
        guard let record = table.record(key) else { return ["error": .string("no session \(key.session) on this Planter")] }
        var object: JSONObject = ["sessionId": .string(key.session), "namespace": .string(key.namespace), "status": .string(record.status),
                                  "runId": record.runId.map(JSON.string) ?? .null, "planId": record.planId.map(JSON.string) ?? .null]
        if let answer = record.answer { object[record.status == "dryRun" ? "result" : "problems"] = answer }
        guard let runId = record.runId, let service = try? await service(key.namespace),
            let run = try? await service.runAnswer(runId)
        else { return .object(object) }
        let phases = run["phases"]?.arrayValue ?? []
        object["phases"] = .array(phases.map { phase in
            let status = phase["status"]?.stringValue ?? "pending"
            return ["phaseId": phase["id"] ?? .null, "status": .string(Self.protocolStatus(status)), "planterStatus": .string(status)]
        })
        object["paused"] = .bool(await service.activeRunSession.map { $0.runId == runId && $0.paused } ?? false)
        if case .object(var result) = run {
            result["phases"] = nil
            object["result"] = .object(result)
        }
        return .object(object)
    }

    /// Planter's phase status in the protocol's words (`pending` where it has none yet).
    static func protocolStatus(_ status: String) -> String {
        switch status {
        case "running": return "running"
        case "succeeded": return "complete"
        case "failed", "cancelled", "timedOut": return "failed"
        default: return status == "skipped" ? "complete" : "pending"
        }
    }

    /// `.diff`: the session's plan (or a manifest the request carries) against the applied plan.
    func diff(_ key: SessionTable.Key, _ data: [UInt8]) async -> JSON {
        do {
            let service = try await service(key.namespace)
            if !data.isEmpty, let body = try? JSONParser.parse(data) {
                if let manifest = body["manifest"] { return try await service.diff(manifest) }
                if body.arrayValue != nil { return try await service.diff(body) }
            }
            guard let manifest = table.record(key)?.manifest else {
                return ["error": .string("session \(key.session) has no plan on this Planter; send one: {\"manifest\": [...]}")]
            }
            return try await service.diff(manifest.canonicalJSON)
        } catch let error as ServiceError {
            if case .invalid(let problems) = error { return ["error": "the manifest is invalid", "problems": SessionMessages.problemsJSON(problems)] }
            return ["error": .string(error.description)]
        } catch {
            return ["error": .string("\(error)")]
        }
    }
}
