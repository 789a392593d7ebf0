import PlanterJSON

/// Where a phase's parts stand in the submitted document, as written (`/0/Spec/wait_for`),
/// so problems found after decoding (graph, dispatch) point at the user's own keys.
///
/// Only the phase's own pointer is stored, plus a key wherever the document spells it other than
/// canonically (nil, and no storage, on the common path); the pointers are built when a problem
/// asks for one. (Six pointer strings per phase were a sixth of a 100,000-phase run's peak memory.)
public struct PhaseLocation: Sendable {
    /// The phase's own pointer: `/3`, or `/phases/3` when the document is an object.
    public let phase: String
    package var idKey: String?
    package var specKey: String?
    package var selectorKey: String?
    package var matchLabelsKey: String?
    package var waitForKey: String?
    package var phasesKey: String?
    /// `waitFor` was a bare list of ids: its entries stand right under it.
    package var waitForIsList = false

    public init(phase: String) {
        self.phase = phase
    }

    public var id: String { JSONPointer.append(phase, idKey ?? "id") }
    public var spec: String { JSONPointer.append(phase, specKey ?? "spec") }
    public var waitFor: String { JSONPointer.append(spec, waitForKey ?? "waitFor") }
    public var waitForPhases: String { waitForIsList ? waitFor : JSONPointer.append(waitFor, phasesKey ?? "phases") }
    public var matchLabels: String {
        JSONPointer.append(JSONPointer.append(spec, selectorKey ?? "selector"), matchLabelsKey ?? "matchLabels")
    }
}
