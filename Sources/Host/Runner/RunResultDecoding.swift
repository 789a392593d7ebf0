import PlanterCore
import PlanterJSON

/// Reads back what RunResult.json writes (state files, other Planters).
extension RunResult {
    public init?(json: JSON) {
        guard let runId = json["runId"]?.stringValue,
            let status = json["status"]?.stringValue.flatMap(RunStatus.init(rawValue:)),
            let startedAt = json["startedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)),
            let endedAt = json["endedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        else { return nil }
        self.init(runId: runId, status: status, startedAt: startedAt, endedAt: endedAt,
                  phases: (json["phases"]?.arrayValue ?? []).compactMap(PhaseRecord.init(json:)),
                  failedPhase: json["failedPhase"]?.stringValue)
    }
}

extension PhaseRecord {
    public init?(json: JSON) {
        guard let id = json["id"]?.stringValue else { return nil }
        self.init(id: id, executor: json["executor"]?.stringValue ?? "", plugin: json["plugin"]?.stringValue ?? "")
        status = json["status"]?.stringValue.flatMap(PhaseStatus.init(rawValue:)) ?? .pending
        message = json["message"]?.stringValue ?? ""
        attempts = (json["attempts"]?.arrayValue ?? []).compactMap(AttemptRecord.init(json:))
        if let labelObject = json["labels"]?.objectValue {
            labels = Labels(labelObject.compactMap { member in member.value.stringValue.map { (member.key, $0) } })
        }
        outputs = json["outputs"]?.objectValue ?? JSONObject()
        output.text = json["output"]?.stringValue ?? ""
        output.droppedBytes = json["outputDroppedBytes"]?.intValue ?? 0
        output.totalBytes = output.text.utf8.count + output.droppedBytes
    }
}

extension AttemptRecord {
    public init?(json: JSON) {
        guard let attempt = json["attempt"]?.intValue,
            let startedAt = json["startedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)) else { return nil }
        self.init(attempt: attempt, status: json["status"]?.stringValue.flatMap(PhaseStatus.init(rawValue:)) ?? .failed,
                  startedAt: startedAt, endedAt: json["endedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)),
                  exitCode: json["exitCode"]?.intValue, message: json["message"]?.stringValue ?? "", worker: json["worker"]?.stringValue)
    }
}
