#if canImport(Glibc)
import Glibc
#endif

/// Exponential backoff between attempts: the first retry waits `initialDelay`, each next one
/// `factor` times longer, never more than `maxDelay`; `jitter` spreads each delay by up to
/// ± that fraction so retries of many phases do not move in lockstep.
public struct BackoffPolicy: Sendable, Equatable {
    public var initialDelay = PlanDuration(milliseconds: 1000)
    public var factor = 2.0
    public var maxDelay = PlanDuration(milliseconds: 30_000)
    public var jitter = 0.1

    /// What input may set: a factor below 1 would shrink delays; jitter is a fraction of the delay.
    public static let factorRange: ClosedRange<Double> = 1...100
    public static let jitterRange: ClosedRange<Double> = 0...1

    public init() {}

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    /// `random` is in 0..<1; 0.5 means no jitter. Total for any inputs: 0 × ∞ or a huge power
    /// ends at `maxDelay` or 0, never at a conversion trap.
    public func delay(afterAttempt attempt: Int, random: Double) -> PlanDuration {
        let ceiling = Double(max(0, maxDelay.milliseconds))
        let growth = pow(max(1, factor), Double(min(max(0, attempt - 1), 10_000)))
        var base = Double(max(0, initialDelay.milliseconds)) * growth
        if !base.isFinite || base > ceiling { base = base.isNaN ? 0 : ceiling }
        let spread = base * min(max(0, jitter), 1) * (min(max(0, random), 1) * 2 - 1)
        let delay = min(max(0, base + spread), ceiling)
        return PlanDuration(milliseconds: Int64(delay.rounded()))
    }
}
