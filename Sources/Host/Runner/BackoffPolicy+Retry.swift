import PlanterCore

extension BackoffPolicy {
    /// This policy with a phase's `retry` x- overrides applied.
    public func overridden(by retry: RetryPolicy?) -> BackoffPolicy {
        guard let retry else { return self }
        var policy = self
        if let value = retry.initialDelay { policy.initialDelay = value }
        if let value = retry.maxDelay { policy.maxDelay = value }
        if let value = retry.factor { policy.factor = value }
        if let value = retry.jitter { policy.jitter = value }
        return policy
    }
}
