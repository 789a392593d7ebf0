import PlanterCore
import PlanterDeployment

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
