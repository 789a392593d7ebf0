import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON

/// The checks every entry point runs: document shape, fields, graph, and dispatch.
public enum PlanValidator {
    /// `strict`: every warning is an error (values the protocol leaves open, unknown fields):
    /// `planter validate --strict`, `POST /plan?strict=true`, `PLANTER_STRICT=1`.
    public static func validate(text bytes: [UInt8], format: DocumentParser.Format,
                                registry: ExecutorRegistry, strict: Bool = false) -> Result<Plan, ValidationFailure> {
        let parsed: JSON
        switch DocumentParser.parse(bytes, format: format) {
        case .failure(let failure): return .failure(failure)
        case .success(let document): parsed = document
        }
        return validate(document: consume parsed, registry: registry, strict: strict)
    }

    /// `document` is consumed: once decoded it is released, before the graph and the bindings are
    /// built (for a large plan the parsed tree is the biggest thing alive).
    public static func validate(document: consuming JSON, registry: ExecutorRegistry, strict: Bool = false) -> Result<Plan, ValidationFailure> {
        var located = ManifestDecoder.decodeLocated(document)
        _ = consume document
        return validate(manifest: located.manifest, locations: located.locations, problems: &located.problems,
                        registry: registry, phaseDecodeFailed: located.skippedElements, strict: strict)
    }

    /// Validates an already-decoded manifest (the server's rerun path, tests).
    public static func validate(manifest: Manifest, registry: ExecutorRegistry) -> Result<Plan, ValidationFailure> {
        var problems = Problems()
        return validate(manifest: manifest, locations: manifest.phases.indices.map { PhaseLocation(phase: "/\($0)") },
                        problems: &problems, registry: registry, phaseDecodeFailed: false, strict: false)
    }

    /// Whether strict mode is asked for by the environment (`PLANTER_STRICT=1`, `true` or `yes`).
    public static func strictFromEnvironment(_ environment: [String: String]) -> Bool {
        guard let value = environment["PLANTER_STRICT"]?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }

    static func validate(manifest: Manifest, locations: [PhaseLocation], problems: inout Problems, registry: ExecutorRegistry,
                         phaseDecodeFailed: Bool, strict: Bool) -> Result<Plan, ValidationFailure> {
        if strict { problems.makeWarningsErrors() }
        // The graph of a list with non-phase elements is not worth checking: it is invalid already.
        let graph = phaseDecodeFailed ? nil : PhaseGraph.build(manifest, locations: locations, problems: &problems)
        var bindings: [ExecutorBinding] = []
        bindings.reserveCapacity(manifest.phases.count)
        let labelKey = registry.deployment.executorLabel
        for (index, phase) in manifest.phases.enumerated() {
            let labels = phase.spec.labels
            switch registry.resolve(labels: labels) {
            case .success(let binding):
                bindings.append(binding)
            case .failure(let error):
                let path = labels[labelKey] != nil
                    ? JSONPointer.append(locations[index].matchLabels, labelKey)
                    : locations[index].phase
                let defaultNote = labels[labelKey] == nil ? " (the default executor, as the phase names none)" : ""
                problems.error(path, "\(error)\(defaultNote)")
            }
        }
        if strict { problems.makeWarningsErrors() }
        guard let graph, !problems.hasErrors else {
            return .failure(ValidationFailure(problems.all))
        }
        return .success(Plan(manifest: manifest, graph: graph, bindings: bindings, warnings: problems.warnings))
    }
}
