import ExecutorRuntime
import PlanterJSON

/// How one check ended. A check that the profile cannot drive is skipped with why, never passed.
public enum CheckOutcome: Sendable, Equatable {
    case passed(String)
    case failed(String)
    case skipped(String)

    public var word: String {
        switch self {
        case .passed: return "pass"
        case .failed: return "FAIL"
        case .skipped: return "skip"
        }
    }

    public var detail: String {
        switch self {
        case .passed(let text), .failed(let text), .skipped(let text): return text
        }
    }

    public var isFailure: Bool { if case .failed = self { return true } else { return false } }
}

/// One named check of the contract.
public struct ContractCheck: Sendable {
    public let name: String
    /// What it asserts, one line (for the report and `--help`).
    public let summary: String
    let body: @Sendable (CheckEnvironment) -> CheckOutcome

    /// Every check, in the order they run.
    public static let all: [ContractCheck] = [
        ContractCheck(name: "handshake", summary: "loads through the host; ABI (or protocol) version is the host's; name and version are valid",
                      body: Checks.handshake),
        ContractCheck(name: "create", summary: "an instance is created with the profile's config", body: Checks.create),
        ContractCheck(name: "bad-config", summary: "create refuses the profile's bad config with a message; a good one still works",
                      body: Checks.badConfig),
        ContractCheck(name: "bad-request", summary: "request bytes that are not a JSON object give status invalid, not a crash",
                      body: Checks.badRequest),
        ContractCheck(name: "bad-payload", summary: "the profile's bad payload gives status invalid with a message", body: Checks.badPayload),
        ContractCheck(name: "streaming", summary: "the stream case succeeds and its text arrives as output", body: Checks.streaming),
        ContractCheck(name: "outputs", summary: "the outputs case's result holds the expected outputs", body: Checks.outputs),
        ContractCheck(name: "outputs-bound", summary: "outputs over the executor's limit fail the call instead of passing",
                      body: Checks.outputsBound),
        ContractCheck(name: "cancel-before", summary: "a call cancelled before it starts returns cancelled at once", body: Checks.cancelBefore),
        ContractCheck(name: "cancel-during", summary: "cancelling the long case returns cancelled within the grace", body: Checks.cancelDuring),
        ContractCheck(name: "time-limit", summary: "the long case with timeoutMs ends (cancelled or failed) soon after the limit",
                      body: Checks.timeLimit),
        ContractCheck(name: "concurrency", summary: "calls from several threads on one instance each get their own result and output",
                      body: Checks.concurrency),
        ContractCheck(name: "dry-run", summary: "with dryRun nothing runs: succeeded, none of the case's output, no waiting",
                      body: Checks.dryRun),
        ContractCheck(name: "destroy", summary: "instances are destroyed after a call and after a cancelled call; new ones still work",
                      body: Checks.destroy),
    ]

    public static var names: [String] { all.map(\.name) }
}

/// Ends a check early with its outcome (a call that hung, an instance that could not be made).
struct CheckStop: Error {
    var outcome: CheckOutcome
    init(_ outcome: CheckOutcome) { self.outcome = outcome }
}

/// What a check works with.
struct CheckEnvironment: Sendable {
    let subject: ContractSubject
    let profile: ContractProfile
    /// Nil when the handshake failed.
    let descriptor: ContractDescriptor?

    var grace: Duration { .milliseconds(profile.cancelGraceMs) }

    /// A fresh instance with the profile's config (or `config`), or the failure that ends the check.
    func instance(config: JSON? = nil) -> Result<ContractInstance, CheckStop> {
        switch subject.instance(config: config ?? profile.config) {
        case .success(let instance): return .success(instance)
        case .failure(let failure): return .failure(CheckStop(.failed("cannot create an instance: \(failure.description)" + logTail)))
        }
    }

    /// The last log lines of the executor, for failure messages.
    var logTail: String {
        let lines = subject.recentLogs
        return lines.isEmpty ? "" : " (last log lines: " + lines.joined(separator: " | ") + ")"
    }

    /// Runs `body` with a fresh instance, destroying it afterwards.
    func withInstance(config: JSON? = nil, _ body: (any Executor) -> CheckOutcome) -> CheckOutcome {
        switch instance(config: config) {
        case .failure(let stop): return stop.outcome
        case .success(let instance):
            defer { instance.destroy() }
            guard let executor = instance.executor else { return .failed("the instance was destroyed too early") }
            return body(executor)
        }
    }

    /// Makes one call and waits for it, failing the check when it does not return within `limit`.
    func call(_ executor: any Executor, _ request: ExecuteRequest, limit: Duration? = nil,
              cancelled: Bool = false) -> Result<ContractCall.Outcome, CheckStop> {
        let limit = limit ?? .seconds(60)
        let call = ContractCall(executor, request, cancelled: cancelled)
        guard let outcome = call.wait(limit) else {
            call.context.cancel(reason: "the contract check gave up waiting")
            return .failure(CheckStop(.failed("the call did not return within \(limit.shortText)" + logTail)))
        }
        return .success(outcome)
    }
}
