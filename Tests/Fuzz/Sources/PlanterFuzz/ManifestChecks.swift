import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterHost
import PlanterJSON

enum ManifestChecks {
    /// `noop` under every executor name the examples use, so they validate all the way to a
    /// plan (and the round-trip checks run on them) while no plugin is ever loaded.
    static let registry: ExecutorRegistry = {
        var deployment = Deployment()
        for name in ["shell", "python", "container", "http", "native", "c-echo", "swift-hello", "build", "deploy", "echo"] {
            deployment.executors.append(ExecutorDefinition(name: name, plugin: NoopExecutor.name))
        }
        return ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), environment: [:])
    }()

    /// The path `planter validate` takes (parse, decode, validate against a deployment), then
    /// what the server does with a valid plan: canonical JSON, re-decode, diff, backoff.
    static func check(_ bytes: [UInt8], format: DocumentParser.Format) {
        let document: JSON
        switch DocumentParser.parse(bytes, format: format) {
        case .failure(let failure):
            require(failure.problems.contains { $0.severity == .error }, "a parse failure with no error: \(failure.problems)")
            return
        case .success(let parsed):
            document = parsed
        }
        let located = ManifestDecoder.decodeLocated(document)
        require(located.locations.count == located.manifest.phases.count,
                "\(located.locations.count) locations for \(located.manifest.phases.count) phases")
        Pointers.checkProblems(located.problems.all, in: document)

        let validated = PlanValidator.validate(document: document, registry: registry)
        var valid = false
        switch validated {
        case .failure(let failure):
            require(failure.problems.contains { $0.severity == .error }, "invalid with no error: \(failure.problems)")
            Pointers.checkProblems(failure.problems, in: document)
        case .success(let plan):
            valid = true
            require(!located.problems.hasErrors, "valid although the decoder found errors: \(located.problems.errors)")
            require(plan.manifest == located.manifest, "the plan's manifest differs from the decoded one")
            require(plan.bindings.count == plan.phases.count, "\(plan.bindings.count) bindings for \(plan.phases.count) phases")
            Pointers.checkProblems(plan.warnings, in: document)
            checkGraph(plan.graph)
        }
        guard !located.problems.hasErrors else { return }
        checkRoundTrip(located.manifest, valid: valid)
    }

    /// A valid plan's graph is acyclic: every phase is ordered, after all it waits for.
    static func checkGraph(_ graph: PhaseGraph) {
        let order = graph.topologicalOrder()
        require(order.count == graph.count, "topological order has \(order.count) of \(graph.count) phases")
        var position = [Int](repeating: -1, count: graph.count)
        for (rank, index) in order.enumerated() { position[index] = rank }
        for index in 0..<graph.count {
            for dependency in graph.dependencies[index] {
                require(position[dependency] < position[index], "phase \(index) is ordered before its dependency \(dependency)")
            }
        }
        require(graph.waves().reduce(0) { $0 + $1.count } == graph.count, "waves do not cover every phase")
    }

    /// manifest → canonical JSON → manifest is the identity, canonical JSON is a fixed point,
    /// and a plan diffed with itself (in either spelling) is empty.
    static func checkRoundTrip(_ manifest: Manifest, valid: Bool) {
        let canonical = manifest.canonicalJSON.serialized
        guard case .success(let reparsed) = DocumentParser.parse(Array(canonical.utf8), format: .json) else {
            require(false, "the canonical JSON does not parse: \(canonical.prefix(400))")
            return
        }
        let again = ManifestDecoder.decode(reparsed)
        require(!again.problems.hasErrors, "the canonical JSON has errors \(again.problems.errors): \(canonical.prefix(400))")
        require(again.manifest == manifest, "the canonical JSON decodes to another manifest: \(canonical.prefix(400))")
        let twice = again.manifest.canonicalJSON.serialized
        require(twice == canonical, "canonical JSON is not stable:\n\(canonical.prefix(400))\n\(twice.prefix(400))")

        // The diff keys phases by id; with duplicates (an invalid plan) "itself" is ambiguous.
        let ids = manifest.phases.map(\.id)
        if Set(ids).count == ids.count {
            for other in [manifest, again.manifest] {
                let diff = PlanDiff(old: manifest, new: other)
                require(diff.isEmpty && diff.unchanged == ids, "a plan diffed with itself is not empty: \(diff.json.serialized.prefix(400))")
            }
            require(PlanDiff(old: nil, new: manifest).added == ids, "a fresh plan does not add every phase")
            require(PlanDiff(old: manifest, new: Manifest(phases: [])).removed == ids, "an empty plan does not remove every phase")
        }
        if valid {
            guard case .success = PlanValidator.validate(manifest: again.manifest, registry: registry) else {
                require(false, "the canonical form of a valid plan is invalid: \(canonical.prefix(400))")
                return
            }
        }
        for phase in manifest.phases {
            Backoff.check(BackoffPolicy().overridden(by: phase.spec.retry), attempts: phase.spec.retry?.maxAttempts ?? 1)
            if let timeout = phase.spec.executionTimeout { _ = timeout.duration }
        }
    }
}

/// Every problem names where: a JSON pointer that resolves in the document, or whose parent
/// does (a missing field is reported where it belongs).
enum Pointers {
    static func checkProblems(_ problems: [Problem], in document: JSON) {
        for problem in problems {
            require(!problem.message.isEmpty, "a problem without a message at \(problem.path)")
            // By byte: "/" followed by a combining mark (a key that starts with one) is one Character.
            let bytes = Array(problem.path.utf8)
            require(bytes.isEmpty || bytes[0] == UInt8(ascii: "/"), "not a JSON pointer: \(problem.path)")
            guard !bytes.isEmpty, resolve(problem.path, in: document) == nil else { continue }
            let parent = String(decoding: bytes[..<(bytes.lastIndex(of: UInt8(ascii: "/")) ?? 0)], as: UTF8.self)
            require(resolve(parent, in: document) != nil,
                    "\"\(problem.path)\" (\(problem.message)) points nowhere in the document")
        }
    }

    /// RFC 6901: `~1` is `/`, `~0` is `~`; array elements by decimal index.
    static func resolve(_ pointer: String, in document: JSON) -> JSON? {
        guard !pointer.isEmpty else { return document }
        var current = document
        for rawBytes in Array(pointer.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            let raw = String(decoding: rawBytes, as: UTF8.self)
            let segment = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let object):
                guard let member = object.members.first(where: { $0.key.utf8.elementsEqual(segment.utf8) }) else { return nil }
                current = member.value
            case .array(let elements):
                guard let index = Int(segment), elements.indices.contains(index) else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}
