import PlanterJSON

/// A manifest that passed every check, with the executor chosen for each phase.
/// Only a Plan can be run: invalid manifests never start any phase.
public struct Plan: Sendable {
    public let manifest: Manifest
    public let graph: PhaseGraph
    /// The executor instance serving each phase, by phase index.
    public let bindings: [ExecutorBinding]
    public let warnings: [Problem]

    public var phases: [Phase] { manifest.phases }
}

/// The checks every entry point runs: document shape, fields, graph, and dispatch.
public enum PlanValidator {
    public static func validate(text bytes: [UInt8], format: DocumentParser.Format,
                                registry: ExecutorRegistry) -> Result<Plan, ValidationFailure> {
        switch DocumentParser.parse(bytes, format: format) {
        case .failure(let failure): return .failure(failure)
        case .success(let document): return validate(document: document, registry: registry)
        }
    }

    public static func validate(document: JSON, registry: ExecutorRegistry) -> Result<Plan, ValidationFailure> {
        var (manifest, problems) = ManifestDecoder.decode(document)
        let base = document.objectValue.flatMap { object in
            object.keys.first { ObjectReader.normalize($0) == "phases" }.map { JSONPointer.append("", $0) }
        } ?? ""
        return validate(manifest: manifest, paths: manifest.phases.indices.map { "\(base)/\($0)" },
                        problems: &problems, registry: registry, phaseDecodeFailed: hasNonObjectPhase(document))
    }

    /// Validates an already-decoded manifest (the server's rerun path, tests).
    public static func validate(manifest: Manifest, registry: ExecutorRegistry) -> Result<Plan, ValidationFailure> {
        var problems = Problems()
        return validate(manifest: manifest, paths: manifest.phases.indices.map { "/\($0)" }, problems: &problems,
                        registry: registry, phaseDecodeFailed: false)
    }

    static func validate(manifest: Manifest, paths: [String], problems: inout Problems, registry: ExecutorRegistry,
                         phaseDecodeFailed: Bool) -> Result<Plan, ValidationFailure> {
        // Indices (and so pointers) are only trustworthy when every element decoded to a phase.
        let graph = phaseDecodeFailed ? nil : PhaseGraph.build(manifest, paths: paths, problems: &problems)
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
                    ? "\(paths[index])/spec/selector/matchLabels/\(JSONPointer.escape(labelKey))"
                    : paths[index]
                let defaultNote = labels[labelKey] == nil ? " (the default executor, as the phase names none)" : ""
                problems.error(path, "\(error)\(defaultNote)")
            }
        }
        guard let graph, !problems.hasErrors else {
            return .failure(ValidationFailure(problems.all))
        }
        return .success(Plan(manifest: manifest, graph: graph, bindings: bindings, warnings: problems.warnings))
    }

    static func hasNonObjectPhase(_ document: JSON) -> Bool {
        let list = document.arrayValue ?? document.objectValue.flatMap { object in
            object.keys.first { ObjectReader.normalize($0) == "phases" }.flatMap { object[$0]?.arrayValue }
        } ?? []
        return list.contains { $0.objectValue == nil }
    }
}
