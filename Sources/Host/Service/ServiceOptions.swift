import ExecutorRuntime
import PlanterCore
import PlanterStore

/// An answer the API turns into an error response. Nothing changes state when one is thrown.
public enum ServiceError: Error, Sendable, CustomStringConvertible {
    /// 400, with every problem.
    case invalid([Problem])
    /// 409: a run is in progress (named), or the request conflicts with the state.
    case conflict(String, runId: String?)
    /// 404
    case notFound(String)
    /// 503: shutting down.
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let problems): return problems.map(\.description).joined(separator: "; ")
        case .conflict(let message, _), .notFound(let message), .unavailable(let message): return message
        }
    }
}

public struct ServiceConfiguration: Sendable {
    public var parallel: Int = RunOptions.defaultParallel
    /// How long a shutdown lets a running plan finish before cancelling it.
    public var shutdownGrace: Duration = .seconds(10)
    /// Every plan is validated in strict mode (`PLANTER_STRICT=1`): warnings are errors.
    public var strict = false
    /// How much history to keep (the deployment's `history`); pruned after each run and hourly.
    public var retention = Retention()
    /// Shutdown closes the deployment's executors; false when several services share them (namespaces).
    public var closesExecutors = true
    /// Phase slots shared with other services (namespaces), under this lane name; nil: none.
    public var capacity: (pool: CapacityPool, lane: String)?
    /// The executors this service's plans may use (a namespace's `executors`); nil: any.
    public var allowedExecutors: Set<String>?
    /// Several Planters share the namespace (Redis): only the lease's holder runs its plans.
    public var lease: (any ServiceLease)?
    /// Runs are mirrored on sessions (NATS configured): every run gets a session id, and this is
    /// called as a run starts, before its first event, to bind and announce it. Nil: no sessions.
    public var runStarting: (@Sendable (RunStart) -> Void)?
    /// Attempts of an interrupted run that ran elsewhere (worker pools): called at start-up,
    /// before the run can resume, to cancel what still runs there and to return the results of
    /// those that ended meanwhile (phase id → result). Nil: every attempt ran in this process.
    public var recoverRemoteAttempts: (@Sendable (String) async -> [String: ExecuteResult])?
    /// The namespace this service runs (its runs' requests name it: remote pools queue per namespace).
    public var namespace: String?

    public init() {}
}

/// The right to run a namespace's plans, held by one Planter at a time (RedisLease).
public protocol ServiceLease: Sendable {
    /// Held, and renewed recently enough to start a phase.
    var mayStartPhases: Bool { get }
}

public struct SubmitOptions: Sendable {
    public var dryRun = false
    public var wait = false
    public var stage = false
    public var force = false
    public var queue = false
    /// Warnings are errors (`?strict=true`); the service's own `strict` option applies as well.
    public var strict = false
    /// Who asked (the name of the caller's token), recorded in the run.
    public var triggeredBy: String?
    /// The session the run is bound to (`?session=`, a NATS `.start`); with sessions on and
    /// none given, the run gets `session-<uuid>`.
    public var session: String?

    public init(dryRun: Bool = false, wait: Bool = false, stage: Bool = false, force: Bool = false, queue: Bool = false,
                strict: Bool = false, triggeredBy: String? = nil, session: String? = nil) {
        self.session = session
        self.strict = strict
        self.triggeredBy = triggeredBy
        self.dryRun = dryRun
        self.wait = wait
        self.stage = stage
        self.force = force
        self.queue = queue
    }
}

/// A run that is starting, as the session interface announces it.
public struct RunStart: Sendable {
    public let runId: String
    public let planId: String
    public let sessionId: String
    /// The plan the run executes, canonical (what `.start` carries).
    public let manifest: Manifest
    public let trigger: RunEntry.Trigger
}
