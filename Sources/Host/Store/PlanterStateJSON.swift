import PlanterCore
import PlanterDocument
import PlanterJSON

/// The state file's JSON. Its top level has `phases` (the applied plan, canonical), like
/// `GET /state`, so a state file and a state answer read the same way.
extension PlanterState {
    public static let format = "planter-state/1"

    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("format", .string(Self.format))
        object.appendUnchecked("planId", current.map { .string($0.planId) } ?? .null)
        object.appendUnchecked("submittedAt", current.map { .string($0.submittedAt.iso8601) } ?? .null)
        object.appendUnchecked("phases", current?.manifest.canonicalJSON ?? .array([]))
        object.appendUnchecked("phaseStatus", .object(JSONObject(phaseStates.sorted { $0.key < $1.key }.map { id, state in
            JSONObject.Member(key: id, value: state.json)
        })))
        object.appendUnchecked("staged", staged.map(\.json) ?? .null)
        object.appendUnchecked("inFlightRunId", inFlightRunId.map(JSON.string) ?? .null)
        object.appendUnchecked("runs", .array(runs.map(\.json)))
        return .object(object)
    }

    /// Reads a state document; nil with a reason when it is not one.
    public static func decode(_ json: JSON) -> Result<PlanterState, ValidationFailure> {
        if case .array = json { return decodeOriginal(json) }
        guard let object = json.objectValue else {
            return .failure(ValidationFailure([.error("", "a state document must be an object, got \(json.typeName)")]))
        }
        if let format = object["format"]?.stringValue, format != Self.format {
            return .failure(ValidationFailure([.error("/format", "unsupported state format \"\(format)\" (this Planter reads \(Self.format))")]))
        }
        var state = PlanterState()
        var problems = Problems()
        if let phases = object["phases"], !(phases.arrayValue?.isEmpty ?? false) || object["planId"]?.stringValue != nil {
            let (manifest, decodeProblems) = ManifestDecoder.decode(phases)
            problems.append(contentsOf: decodeProblems)
            state.current = StoredPlan(planId: object["planId"]?.stringValue ?? StoredPlan.newPlanID(),
                                       submittedAt: object["submittedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)) ?? .now(),
                                       manifest: manifest)
        }
        if let staged = object["staged"], !staged.isNull {
            let (manifest, decodeProblems) = ManifestDecoder.decode(staged["phases"] ?? .null)
            problems.append(contentsOf: decodeProblems)
            state.staged = StoredPlan(planId: staged["planId"]?.stringValue ?? StoredPlan.newPlanID(),
                                      submittedAt: staged["submittedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)) ?? .now(),
                                      manifest: manifest)
        }
        for member in object["phaseStatus"]?.objectValue ?? JSONObject() {
            if let phaseState = PhaseState(json: member.value) { state.phaseStates[member.key] = phaseState }
        }
        state.runs = (object["runs"]?.arrayValue ?? []).compactMap(RunEntry.init(json:))
        state.inFlightRunId = object["inFlightRunId"]?.stringValue
        // The plans were valid when stored; a rule added since (a duration over 30 days, a factor
        // below 1) must not cost the user their state and history: keep it, and say what is wrong.
        state.loadProblems = problems.errors
        return .success(state)
    }

    /// The original Planter's state file: a JSON array of phases in its spelling (`Kind`,
    /// `Id`, `Spec`, snake_case inside, `"instance_mode": null`), which the manifest decoder
    /// reads. It becomes the applied plan with no phase status: nothing of it has run here.
    static func decodeOriginal(_ json: JSON) -> Result<PlanterState, ValidationFailure> {
        let (manifest, problems) = ManifestDecoder.decode(.array((json.arrayValue ?? []).map(droppingNullOptions)))
        if problems.hasErrors { return .failure(ValidationFailure(problems.errors)) }
        var state = PlanterState()
        state.current = StoredPlan(manifest: manifest)
        state.migratedFromOriginal = true
        return .success(state)
    }
}

/// The original writes an option it does not have as null (`"instance_mode": null`,
/// `"on_failure": null`): "not set", so such members of a phase's spec are left out, at any
/// depth but inside `x-` extensions (kept verbatim).
private func droppingNullOptions(_ phase: JSON) -> JSON {
    func clean(_ value: JSON) -> JSON {
        guard case .object(let object) = value else { return value }
        return .object(JSONObject(object.members.compactMap { member in
            if member.value.isNull { return nil }
            return member.key.hasPrefix("x-") ? member : JSONObject.Member(key: member.key, value: clean(member.value))
        }))
    }
    guard case .object(let object) = phase else { return phase }
    return .object(JSONObject(object.members.map { member in
        ObjectReader.normalize(member.key) == "spec" ? JSONObject.Member(key: member.key, value: clean(member.value)) : member
    }))
}

extension StoredPlan {
    public var json: JSON {
        ["planId": .string(planId), "submittedAt": .string(submittedAt.iso8601), "phases": manifest.canonicalJSON]
    }
}

extension PhaseState {
    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("status", .string(status.rawValue))
        if let runId { object.appendUnchecked("runId", .string(runId)) }
        if !message.isEmpty { object.appendUnchecked("message", .string(message)) }
        if let updatedAt { object.appendUnchecked("updatedAt", .string(updatedAt.iso8601)) }
        if !labels.isEmpty { object.appendUnchecked("labels", labels.json) }
        object.appendUnchecked("outputs", .object(outputs))
        return .object(object)
    }

    init?(json: JSON) {
        guard let status = json["status"]?.stringValue.flatMap(PhaseStatus.init(rawValue:)) else { return nil }
        self.init(status: status, runId: json["runId"]?.stringValue, message: json["message"]?.stringValue ?? "",
                  outputs: json["outputs"]?.objectValue ?? JSONObject(),
                  labels: Labels((json["labels"]?.objectValue ?? JSONObject()).compactMap { m in m.value.stringValue.map { (m.key, $0) } }),
                  updatedAt: json["updatedAt"]?.stringValue.flatMap(Timestamp.init(iso8601:)))
    }
}

extension RunEntry {
    public var json: JSON {
        guard case .object(var object) = result.json else { return .null }
        object["planId"] = .string(planId)
        object["trigger"] = .string(trigger.rawValue)
        if let triggeredBy { object["triggeredBy"] = .string(triggeredBy) }
        if interrupted { object["interrupted"] = true }
        return .object(object)
    }

    init?(json: JSON) {
        guard let result = RunResult(json: json) else { return nil }
        self.init(result: result, planId: json["planId"]?.stringValue ?? "",
                  trigger: json["trigger"]?.stringValue.flatMap(Trigger.init(rawValue:)) ?? .plan,
                  interrupted: json["interrupted"]?.boolValue ?? false, triggeredBy: json["triggeredBy"]?.stringValue)
    }
}
