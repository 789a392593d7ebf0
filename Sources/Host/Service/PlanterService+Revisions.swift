import PlanterJSON
import PlanterStore

/// Any plan revision by its id: the staged one, the applied one, or one applied earlier (the
/// history keeps every applied revision). For GET /graph.svg?planId= and GET /diff?from=&to=.
extension PlanterService {
    /// The revision's phases, canonical (`{"planId", "phases"}`, what PlanGraph reads). The staged
    /// and applied plans come from memory; older ones from the history store.
    public func revisionDocument(_ planId: String) async throws(ServiceError) -> JSON {
        for stored in [state.staged, state.current].compactMap({ $0 }) where stored.planId == planId {
            return ["planId": .string(planId), "phases": stored.manifest.canonicalJSON]
        }
        if let history {
            let row: PlanRow?
            do { row = try await history.reads.plan(planId) } catch { throw Self.unreadable(error) }
            if let row {
                guard let phases = try? JSONParser.parse(row.manifest) else {
                    throw .unavailable("the history's copy of plan revision \"\(planId)\" cannot be read")
                }
                return ["planId": .string(planId), "phases": phases]
            }
        }
        throw .notFound("no plan revision \"\(planId)\" in this namespace (GET /plans lists them)")
    }

    func revisionManifest(_ planId: String) async throws(ServiceError) -> Manifest {
        // Stored canonical, so it decodes without problems; the staged and applied ones need no decoding.
        for stored in [state.staged, state.current].compactMap({ $0 }) where stored.planId == planId { return stored.manifest }
        return ManifestDecoder.decode(try await revisionDocument(planId)["phases"] ?? .array([])).manifest
    }

    /// GET /diff?from=&to=: one revision against another, in GET /diff's shape (`appliedPlanId`,
    /// `stagedPlanId`, `staged` as there) with `fromPlanId` and `toPlanId`. The same id twice is
    /// an empty diff (every phase unchanged).
    public func revisionDiffAnswer(from: String, to: String) async throws(ServiceError) -> JSON {
        let old = try await revisionManifest(from)
        let new = from == to ? old : try await revisionManifest(to)
        guard case .object(var object) = PlanDiff(old: old, new: new).json else { return .null }
        addPlanIds(to: &object)
        object["fromPlanId"] = .string(from)
        object["toPlanId"] = .string(to)
        return .object(object)
    }

    /// The applied and staged plans' ids, as every diff answer names them.
    func addPlanIds(to object: inout JSONObject) {
        let staged = state.staged
        object["appliedPlanId"] = state.current.map { .string($0.planId) } ?? .null
        object["stagedPlanId"] = staged.map { .string($0.planId) } ?? .null
        object["staged"] = staged.map { ["planId": .string($0.planId), "submittedAt": .string($0.submittedAt.iso8601),
                                         "phaseCount": .int(Int64($0.manifest.phases.count))] } ?? .null
    }
}
