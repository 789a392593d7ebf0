/// The variables that tag every process a plugin starts for a phase: which Planter owns
/// it (`PLANTER_OWNER`, a token kept in that Planter's state root), and the run, phase and
/// attempt. Set from the exec on and inherited by whatever the process starts, they let a
/// restarted Planter find and kill what a crashed one left running (ps_find_tagged), and
/// tell users' scripts where they run. Plugins put them last, so nothing overrides them.
public enum PhaseTag {
    // The same names as PS_TAG_* in process_support.h, which the scan matches.
    public static let owner = "PLANTER_OWNER"
    public static let runId = "PLANTER_RUN_ID"
    public static let phaseId = "PLANTER_PHASE_ID"
    public static let attempt = "PLANTER_ATTEMPT"

    /// Every tag variable's name: plugins drop them from the environments they inherit or
    /// are given (a `planter run` inside a phase must not pass the outer run's tags on).
    public static let variables = [owner, runId, phaseId, attempt]

    /// The tag of one request as name/value pairs; `PLANTER_OWNER` only when the host named
    /// an owner (a `planter run` has none: nothing outlives it to clean up after it).
    public static func pairs(_ request: PluginRequest) -> [(String, String)] {
        var pairs: [(String, String)] = [(runId, request.runId), (phaseId, request.phaseId), (attempt, String(request.attempt))]
        if !request.owner.isEmpty { pairs.append((owner, request.owner)) }
        // An environment entry cannot hold a NUL; such a value is left out rather than cut.
        return pairs.filter { !$0.1.utf8.contains(0) }
    }

    /// The same as "NAME=value" entries.
    public static func entries(_ request: PluginRequest) -> [String] {
        pairs(request).map { $0.0 + "=" + $0.1 }
    }
}
