import ExecutorRuntime
import PlanterJSON

#if canImport(Glibc)
import Glibc
#endif

extension Checks {
    /// What a check without a case of its own sends: the long case, else the stream case, else `{}`.
    static func anyCase(_ profile: ContractProfile) -> ContractProfile.Case {
        profile.long ?? profile.stream ?? ContractProfile.Case()
    }

    static func cancelBefore(_ env: CheckEnvironment) -> CheckOutcome {
        let chosen = anyCase(env.profile)
        return env.withInstance(config: chosen.config) { executor in
            switch env.call(executor, chosen.request(id: "cancel-before"), limit: env.grace, cancelled: true) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                guard outcome.result.status == .cancelled else {
                    return .failed("an already-cancelled call gave \(outcome.result.summary) after \(outcome.elapsed.shortText); "
                        + "expected cancelled, with nothing run")
                }
                if let text = env.profile.stream?.expect?.stringValue, !text.isEmpty, chosen == env.profile.stream,
                   outcome.allOutput.contains(text) {
                    return .failed("cancelled, but the case ran: its output holds \"\(text)\"")
                }
                return .passed("cancelled after \(outcome.elapsed.shortText)")
            }
        }
    }

    static func cancelDuring(_ env: CheckEnvironment) -> CheckOutcome {
        guard let long = env.profile.long else {
            return .skipped("the profile has no long case (a call that runs 30 s or more unless cancelled)")
        }
        return env.withInstance(config: long.config) { executor in
            let call = ContractCall(executor, long.request(id: "cancel-during"))
            // Cancel once the work has visibly started (its expect text, when given), else after 300 ms.
            if let text = long.expect?.stringValue {
                guard call.waitForOutput(text, timeout: .seconds(30)) else {
                    return earlyEnd(call, env, "before writing \"\(text)\"")
                }
            } else {
                _ = call.wait(.milliseconds(300))
            }
            if call.hasReturned { return earlyEnd(call, env, "before it was cancelled") }
            call.context.cancel(reason: "cancelled by the contract check")
            let cancelledAt = ContinuousClock.now
            guard let outcome = call.wait(env.grace) else {
                return .failed("still running \(env.grace.shortText) after the cancel: cancel must stop the work" + env.logTail)
            }
            let took = ContinuousClock.now - cancelledAt
            guard outcome.result.status == .cancelled else {
                return .failed("cancelled during the call, it gave \(outcome.result.summary); expected cancelled")
            }
            return .passed("cancelled \(took.shortText) after the cancel")
        }
    }

    static func timeLimit(_ env: CheckEnvironment) -> CheckOutcome {
        guard let long = env.profile.long else {
            return .skipped("the profile has no long case (a call that runs 30 s or more unless cancelled)")
        }
        let limit = Duration.milliseconds(env.profile.timeLimitMs)
        return env.withInstance(config: long.config) { executor in
            let call = ContractCall(executor, long.request(id: "time-limit", timeoutMs: env.profile.timeLimitMs))
            var cancelled = false
            var outcome = call.wait(limit)
            if outcome == nil {
                // What the runner does when x-timeout expires.
                call.context.cancel(reason: "timed out after \(env.profile.timeLimitMs) ms (x-timeout)")
                cancelled = true
                outcome = call.wait(env.grace)
            }
            guard let outcome else {
                return .failed("still running \(env.grace.shortText) after its time limit of \(limit.shortText) passed" + env.logTail)
            }
            let result = outcome.result
            guard result.status == .cancelled || result.status == .failed else {
                return .failed("with timeoutMs \(env.profile.timeLimitMs), it gave \(result.summary) after \(outcome.elapsed.shortText); "
                    + "expected cancelled or failed")
            }
            // Its own enforcement may round down a little; much earlier means the case ended by itself.
            guard outcome.elapsed >= limit * 0.9 else {
                return .failed("ended after \(outcome.elapsed.shortText), before its time limit of \(limit.shortText): "
                    + "\(result.summary); the long case must run until stopped")
            }
            let how = cancelled ? "the host's cancel at the limit" : "its own enforcement of timeoutMs"
            return .passed("\(result.summary) after \(outcome.elapsed.shortText), by \(how)")
        }
    }

    static func dryRun(_ env: CheckEnvironment) -> CheckOutcome {
        guard let stream = env.profile.stream, let text = stream.expect?.stringValue, !text.isEmpty else {
            return .skipped("needs the profile's stream case (with expect text) to see that nothing ran")
        }
        return env.withInstance(config: stream.config) { executor in
            switch env.call(executor, stream.request(id: "dry-run", dryRun: true)) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                guard outcome.result.status == .succeeded else {
                    return .failed("with dryRun the stream case gave \(outcome.result.summary); expected succeeded")
                }
                guard !outcome.allOutput.contains(text) else {
                    return .failed("with dryRun the stream case still ran: its output holds \"\(text)\" (dryRun: nothing may run)")
                }
            }
            guard let long = env.profile.long else { return .passed("nothing ran (stream case)") }
            switch env.call(executor, long.request(id: "dry-run-long", dryRun: true), limit: .seconds(5)) {
            case .failure:
                return .failed("with dryRun the long case did not return within 5 s: it ran")
            case .success(let outcome):
                guard outcome.result.status == .succeeded else {
                    return .failed("with dryRun the long case gave \(outcome.result.summary); expected succeeded")
                }
                return .passed("nothing ran; the long case returned after \(outcome.elapsed.shortText): \(outcome.result.message)")
            }
        }
    }

    static func destroy(_ env: CheckEnvironment) -> CheckOutcome {
        let chosen = env.profile.stream ?? ContractProfile.Case()
        var notes: [String] = []
        // After a finished call.
        switch env.instance(config: chosen.config) {
        case .failure(let stop): return stop.outcome
        case .success(let instance):
            guard let executor = instance.executor else { return .failed("no executor") }
            if case .failure(let stop) = env.call(executor, chosen.request(id: "destroy-1")) { return stop.outcome }
            if let failure = destroyAndWatch(instance) { return .failed("after a finished call: \(failure)") }
            notes.append("after a finished call")
        }
        // After a cancelled long call.
        if let long = env.profile.long {
            switch env.instance(config: long.config) {
            case .failure(let stop): return stop.outcome
            case .success(let instance):
                guard let executor = instance.executor else { return .failed("no executor") }
                let call = ContractCall(executor, long.request(id: "destroy-2"))
                _ = call.wait(.milliseconds(300))
                call.context.cancel(reason: "cancelled by the contract check")
                guard call.wait(env.grace) != nil else {
                    return .failed("the cancelled call did not return within \(env.grace.shortText), so the instance cannot be destroyed")
                }
                if let failure = destroyAndWatch(instance) { return .failed("after a cancelled call: \(failure)") }
                notes.append("after a cancelled call")
            }
        }
        // The plugin still makes working instances.
        let again = env.withInstance(config: chosen.config) { executor in
            switch env.call(executor, chosen.request(id: "destroy-3")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                if env.profile.stream != nil && outcome.result.status != .succeeded {
                    return .failed("a new instance after destroy gave \(outcome.result.summary)")
                }
                return .passed("")
            }
        }
        if again.isFailure { return again }
        return .passed("destroyed " + notes.joined(separator: " and ") + "; a new instance still works")
    }

    /// Destroys the instance; for a subprocess, the process must be gone afterwards.
    private static func destroyAndWatch(_ instance: ContractInstance) -> String? {
        let pid = instance.subprocess?.processID
        instance.destroy()
        guard let pid else { return nil }
        for _ in 0..<500 {
            if kill(pid, 0) != 0 && errno == ESRCH { return nil }
            usleep(10_000)
        }
        return "the executor process \(pid) is still there 5 s after shutdown"
    }

    private static func earlyEnd(_ call: ContractCall, _ env: CheckEnvironment, _ when: String) -> CheckOutcome {
        guard let outcome = call.wait(.milliseconds(1)) else {
            call.context.cancel(reason: "contract check gave up")
            return .failed("the long case wrote nothing it was expected to within 30 s" + env.logTail)
        }
        return .failed("the long case ended by itself \(when), after \(outcome.elapsed.shortText): \(outcome.result.summary); "
            + "it must run 30 s or more unless cancelled" + env.logTail)
    }
}
