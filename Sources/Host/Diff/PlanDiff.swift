import PlanterJSON

/// What changed between two manifests, phase by phase and field by field. Phases are
/// compared in their canonical spelling, so `waitFor` and `wait_for` are no change.
public struct PlanDiff: Sendable, Equatable {
    public struct FieldChange: Sendable, Equatable {
        /// JSON pointer inside the phase (`/spec/retry/maxAttempts`).
        public var path: String
        /// nil when the field is new.
        public var old: JSON?
        /// nil when the field was removed.
        public var new: JSON?
    }

    public struct PhaseChange: Sendable, Equatable {
        public var id: String
        public var changes: [FieldChange]
    }

    public var added: [String] = []
    public var removed: [String] = []
    public var changed: [PhaseChange] = []
    public var unchanged: [String] = []

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    /// `old` nil means nothing was applied before: every phase is added.
    public init(old: Manifest?, new: Manifest) {
        let oldPhases = Dictionary((old?.phases ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newIDs = Set(new.phases.map(\.id))
        for phase in new.phases {
            guard let before = oldPhases[phase.id] else {
                added.append(phase.id)
                continue
            }
            if before == phase {
                unchanged.append(phase.id)
                continue
            }
            var changes: [FieldChange] = []
            PlanDiff.compare(before.canonicalJSON, phase.canonicalJSON, path: "", into: &changes)
            if changes.isEmpty {
                unchanged.append(phase.id)
            } else {
                changed.append(PhaseChange(id: phase.id, changes: changes))
            }
        }
        removed = (old?.phases ?? []).map(\.id).filter { !newIDs.contains($0) }
    }

    /// Objects are compared key by key; anything else (arrays included) as a whole value.
    static func compare(_ old: JSON, _ new: JSON, path: String, into changes: inout [FieldChange]) {
        if old == new { return }
        guard case .object(let before) = old, case .object(let after) = new else {
            changes.append(FieldChange(path: path, old: old, new: new))
            return
        }
        let inAfter = after.finder(), inBefore = before.finder()
        for member in before {
            let memberPath = JSONPointer.append(path, member.key)
            if let value = inAfter(member.key) {
                compare(member.value, value, path: memberPath, into: &changes)
            } else {
                changes.append(FieldChange(path: memberPath, old: member.value, new: nil))
            }
        }
        for member in after where inBefore(member.key) == nil {
            changes.append(FieldChange(path: JSONPointer.append(path, member.key), old: nil, new: member.value))
        }
    }

    public var summary: JSON {
        ["added": .int(Int64(added.count)), "removed": .int(Int64(removed.count)),
         "changed": .int(Int64(changed.count)), "unchanged": .int(Int64(unchanged.count))]
    }

    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("summary", summary)
        object.appendUnchecked("added", .array(added.map(JSON.string)))
        object.appendUnchecked("removed", .array(removed.map(JSON.string)))
        object.appendUnchecked("changed", .array(changed.map { change in
            ["id": .string(change.id), "changes": .array(change.changes.map { field in
                var entry = JSONObject()
                entry.appendUnchecked("path", .string(field.path))
                entry.appendUnchecked("old", field.old ?? .null)
                entry.appendUnchecked("new", field.new ?? .null)
                if field.old == nil { entry.appendUnchecked("op", "add") } else if field.new == nil { entry.appendUnchecked("op", "remove") } else { entry.appendUnchecked("op", "replace") }
                return .object(entry)
            })]
        }))
        object.appendUnchecked("unchanged", .array(unchanged.map(JSON.string)))
        return .object(object)
    }
}
