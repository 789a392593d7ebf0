#if canImport(Glibc)
import Glibc
#endif

/// Time on the monotonic clock (CLOCK_MONOTONIC), in nanoseconds: what Condition waits on,
/// and what ps_monotonic_ns reads for process deadlines. The unit conversions are written
/// here once instead of by hand at each timer.
public enum MonotonicTime {
    public static func now() -> Int64 { Monitor.monotonicNow() }

    /// The monotonic time `duration` from now (or from `start`).
    public static func deadline(after duration: PlanDuration, from start: Int64 = now()) -> Int64 {
        start.addingReportingOverflow(duration.nanoseconds).overflow ? .max : start + duration.nanoseconds
    }

    /// poll()'s timeout until `deadline`, in whole milliseconds rounded up (a wake never comes
    /// before the deadline); 0 once it has passed.
    public static func pollTimeout(until deadline: Int64, now: Int64 = now()) -> Int32 {
        let remaining = deadline.subtractingReportingOverflow(now)
        guard !remaining.overflow, remaining.partialValue > 0 else { return remaining.overflow && deadline > now ? .max : 0 }
        return Int32(clamping: remaining.partialValue / 1_000_000 + (remaining.partialValue % 1_000_000 == 0 ? 0 : 1))
    }
}

extension Duration {
    /// Whole milliseconds (saturating), for JSON fields such as `durationMs`.
    public var wholeMilliseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? (components.seconds < 0 ? .min : .max) : seconds + components.attoseconds / 1_000_000_000_000_000
    }
}

extension PlanDuration {
    /// The duration in nanoseconds (saturating: any duration read from input fits many times over).
    public var nanoseconds: Int64 {
        let (value, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? (milliseconds < 0 ? .min : .max) : value
    }
}
