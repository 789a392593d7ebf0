import ExecutorRuntime
import PlanterCore

/// How an attempt ended, from what the executor returned and what the host saw: its own time
/// limit firing, the run cancelling the call. A pure function of those, kept out of the engine
/// so each rule reads on its own.
struct AttemptOutcome: Equatable {
    var status: PhaseStatus
    var message: String

    init(result: ExecuteResult, limit: PlanDuration?, elapsedMs: Int64, hostTimedOut: Bool, callCancelled: Bool,
         cancelReason: String?, masker: SecretMasker) {
        // The executor may enforce the limit itself and return before the host's timer fires:
        // a failure that ends at or past the limit is a timeout either way.
        let pastLimit = limit.map { result.status != .succeeded && elapsedMs >= $0.milliseconds } ?? false
        let timedOut = hostTimedOut || pastLimit
        let cancelledByRun = callCancelled && !timedOut
        switch result.status {
        case .succeeded: status = .succeeded
        case .failed, .invalid: status = .failed
        case .cancelled: status = .cancelled
        }
        if timedOut && status != .succeeded { status = .timedOut }
        if cancelledByRun && status != .succeeded { status = .cancelled }
        message = masker.mask(result.message)
        if status == .timedOut { message = cancelReason ?? "timed out after \(limit ?? PlanDuration(milliseconds: elapsedMs)) (x-timeout)" }
        if status == .cancelled, let reason = cancelReason {
            message = message.isEmpty || message == "cancelled" || message == reason ? reason : "\(reason); \(message)"
        }
    }
}
