import PlanterCore
import PlanterJSON

public enum PhaseStatus: String, Sendable, CaseIterable {
    /// Not started; waiting for dependencies.
    case pending
    /// Ready, or backing off before its next attempt.
    case waiting
    case running
    case succeeded
    case failed
    /// Will not run: a dependency failed, the run stopped, or nothing needs it (onUse).
    case skipped
    case cancelled
    /// The last attempt hit its time limit (`x-timeout`).
    case timedOut

    public var isFinal: Bool {
        switch self {
        case .pending, .waiting, .running: return false
        default: return true
        }
    }
}

public enum RunStatus: String, Sendable {
    case running
    case succeeded
    case failed
    case cancelled
    /// Planter died while the run was in flight (read back after the restart).
    case interrupted
}

public struct AttemptRecord: Sendable {
    public var attempt: Int
    public var status: PhaseStatus
    public var startedAt: Timestamp
    public var endedAt: Timestamp?
    public var exitCode: Int?
    public var message: String
    /// The `planter worker` that ran it (remote pools); nil: this Planter.
    public var worker: String?

    public var durationMs: Int64? { endedAt.map { $0.milliseconds(since: startedAt) } }
}

/// Everything the runner knows about one phase of a run.
public struct PhaseRecord: Sendable {
    public var id: String
    public var status: PhaseStatus = .pending
    public var executor: String
    public var plugin: String
    public var attempts: [AttemptRecord] = []
    /// Why the phase ended as it did, in one line.
    public var message = ""
    /// Labels attached by its onSuccess/onFailure handler.
    public var labels = Labels()
    public var outputs = JSONObject()
    public var output = OutputTail.Snapshot()

    public var startedAt: Timestamp? { attempts.first?.startedAt }
    public var endedAt: Timestamp? { attempts.last?.endedAt }
}

public struct RunResult: Sendable {
    public var runId: String
    public var status: RunStatus
    public var startedAt: Timestamp
    public var endedAt: Timestamp
    public var phases: [PhaseRecord]
    /// The phase whose failure decided the run, if one did.
    public var failedPhase: String?

    public var durationMs: Int64 { endedAt.milliseconds(since: startedAt) }

    public func count(_ status: PhaseStatus) -> Int { phases.reduce(0) { $0 + ($1.status == status ? 1 : 0) } }
}
