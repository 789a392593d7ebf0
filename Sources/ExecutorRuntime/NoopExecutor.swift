import PlanterCore
import PlanterJSON

/// The built-in default executor: runs nothing and records the phase as done, so
/// manifests that name no executor (as the original Planter's) run unchanged.
public struct NoopExecutor: Executor {
    public static let name = "noop"

    public init() {}

    public func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        if call.isCancelled { return ExecuteResult(status: .cancelled, message: call.reason ?? "cancelled") }
        return ExecuteResult(status: .succeeded, message: request.description.isEmpty ? "done" : request.description)
    }
}
