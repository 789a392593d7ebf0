import PlanterCore
import PlanterDocument
import PlanterJSON

/// A plan: the phases of one manifest, in manifest order (which breaks scheduling ties).
public struct Manifest: Sendable, Equatable {
    public var phases: [Phase]

    public init(phases: [Phase]) { self.phases = phases }
}

/// One unit of execution. Field names follow the Phase Manifest Protocol; every `x-` key
/// met while decoding is kept in `extensions` of its level and written back verbatim.
public struct Phase: Sendable, Equatable {
    public var kind: String
    public var id: String
    public var spec: PhaseSpec
    public var extensions: JSONObject

    public init(id: String, spec: PhaseSpec = PhaseSpec(), kind: String = "Phase", extensions: JSONObject = JSONObject()) {
        self.kind = kind
        self.id = id
        self.spec = spec
        self.extensions = extensions
    }
}

public struct PhaseSpec: Sendable, Equatable {
    public var description: String?
    public var selector: Selector?
    public var instanceMode: InstanceMode?
    /// An instanceMode the protocol allows but Planter does not know (`"parallel"`): runs as
    /// `immediate`, and is kept so the plan is written back and diffed as it was sent.
    public var openInstanceMode: String?
    public var waitFor: WaitFor?
    public var retry: RetryPolicy?
    public var onFailure: Handler?
    public var onSuccess: Handler?
    /// `x-` keys of the spec, including Planter's own `x-run` and `x-timeout`.
    public var extensions: JSONObject

    public init(
        description: String? = nil, selector: Selector? = nil, instanceMode: InstanceMode? = nil,
        waitFor: WaitFor? = nil, retry: RetryPolicy? = nil, onFailure: Handler? = nil, onSuccess: Handler? = nil,
        extensions: JSONObject = JSONObject()
    ) {
        self.description = description
        self.selector = selector
        self.instanceMode = instanceMode
        self.waitFor = waitFor
        self.retry = retry
        self.onFailure = onFailure
        self.onSuccess = onSuccess
        self.extensions = extensions
    }

    /// The executor payload (`x-run`), handed to the executor verbatim.
    public var run: JSON? { extensions["x-run"] }

    /// The time limit of one attempt (`x-timeout`); validation guarantees it parses.
    public var executionTimeout: PlanDuration? { extensions["x-timeout"].flatMap(PlanDuration.init(json:)) }
    /// How long the phase may wait for a worker of its pool (remote executors), apart from `x-timeout`.
    public var scheduleTimeout: PlanDuration? { extensions["x-scheduleTimeout"].flatMap(PlanDuration.init(json:)) }

    public var labels: Labels { selector?.matchLabels ?? Labels() }
}

public struct Selector: Sendable, Equatable {
    public var matchLabels: Labels
    public var extensions: JSONObject

    public init(matchLabels: Labels = Labels(), extensions: JSONObject = JSONObject()) {
        self.matchLabels = matchLabels
        self.extensions = extensions
    }
}

public enum InstanceMode: String, Sendable, CaseIterable {
    /// Runs as part of every run (the default).
    case immediate
    /// Runs only when a phase that runs waits for it.
    case onUse
}

public struct WaitFor: Sendable, Equatable {
    public var phases: [String]
    /// How long the phase may wait for its dependencies, counted from the start of the run.
    public var timeout: PlanDuration?
    public var extensions: JSONObject

    public init(phases: [String] = [], timeout: PlanDuration? = nil, extensions: JSONObject = JSONObject()) {
        self.phases = phases
        self.timeout = timeout
        self.extensions = extensions
    }
}

/// `retry`: `maxAttempts` is the total number of attempts. Backoff overrides are `x-` keys:
/// `x-initialDelay`, `x-maxDelay` (durations), `x-factor`, `x-jitter` (numbers).
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int?
    public var extensions: JSONObject

    public init(maxAttempts: Int? = nil, extensions: JSONObject = JSONObject()) {
        self.maxAttempts = maxAttempts
        self.extensions = extensions
    }

    public var initialDelay: PlanDuration? { extensions["x-initialDelay"].flatMap(PlanDuration.init(json:)) }
    public var maxDelay: PlanDuration? { extensions["x-maxDelay"].flatMap(PlanDuration.init(json:)) }
    public var factor: Double? { extensions["x-factor"].flatMap(FieldReader.lenientNumber) }
    public var jitter: Double? { extensions["x-jitter"].flatMap(FieldReader.lenientNumber) }
}

public enum HandlerAction: String, Sendable, CaseIterable {
    /// The run fails; no new phase starts; dependents are skipped.
    case raise
    /// The phase is failed but its dependents run.
    case `continue`
    /// Running phases are cancelled at once.
    case abort
}

/// `onFailure` / `onSuccess`.
public struct Handler: Sendable, Equatable {
    /// nil when the manifest gives none: `raise` for onFailure.
    public var action: HandlerAction?
    /// An action Planter does not know (`"log"`): acts as the default, kept as written.
    public var openAction: String?
    public var messages: [String]
    public var labels: Labels
    public var notify: Notify?
    public var extensions: JSONObject
    /// `x-` keys of the handler's `spec`.
    public var specExtensions: JSONObject

    public init(
        action: HandlerAction? = nil, messages: [String] = [], labels: Labels = Labels(), notify: Notify? = nil,
        extensions: JSONObject = JSONObject(), specExtensions: JSONObject = JSONObject()
    ) {
        self.action = action
        self.messages = messages
        self.labels = labels
        self.notify = notify
        self.extensions = extensions
        self.specExtensions = specExtensions
    }
}

public struct Notify: Sendable, Equatable {
    public var email: [String]
    public var slack: [String]
    public var extensions: JSONObject

    public init(email: [String] = [], slack: [String] = [], extensions: JSONObject = JSONObject()) {
        self.email = email
        self.slack = slack
        self.extensions = extensions
    }
}
