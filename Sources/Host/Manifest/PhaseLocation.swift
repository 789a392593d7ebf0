/// Where a phase's parts stand in the submitted document, as written (`/0/Spec/wait_for`),
/// so problems found after decoding (graph, dispatch) point at the user's own keys.
public struct PhaseLocation: Sendable {
    public var phase: String
    public var id: String
    public var spec: String
    public var waitFor: String
    public var waitForPhases: String
    public var matchLabels: String

    /// Canonical spelling under `phase`, for what the document did not spell out.
    public init(phase: String) {
        self.phase = phase
        id = phase + "/id"
        spec = phase + "/spec"
        waitFor = phase + "/spec/waitFor"
        waitForPhases = phase + "/spec/waitFor/phases"
        matchLabels = phase + "/spec/selector/matchLabels"
    }
}
