// ExecutorContract: the contract every executor must keep, as checks a program can run — the test
// suite over the built-in plugins (Tests/ExecutorContractTests) and `planter plugins check PATH`
// for plugin authors. It drives an executor only through the host's real paths: the dlopen loader
// and PluginExecutor, or SubprocessExecutor (a `command:` program, or planter-executor-host for
// `isolation: process`). May import: ExecutorRuntime, PlanterCore, PlanterJSON — not the engine.
//
// Imports: PlanterJSON, and from PlanterHost only the executor layer (Executor, ExecuteRequest,
// ExecuteResult, CallContext, PluginLoader/Plugin/PluginExecutor, SubprocessExecutor,
// SubprocessProtocol): no manifest, service or server types, so it can move onto the executor
// runtime module alone.
import ExecutorRuntime
import PlanterCore
import PlanterJSON

/// Runs the contract checks against one executor.
public enum ExecutorContract {
    /// Runs `only` (check names; every check when empty) in order. Never throws: whatever goes
    /// wrong is a failed check with a message.
    public static func run(_ target: ContractTarget, profile: ContractProfile = ContractProfile(),
                           only: Set<String> = []) -> ContractReport {
        let subject = ContractSubject(target)
        let descriptor = try? subject.descriptor(config: profile.config).get()
        let env = CheckEnvironment(subject: subject, profile: profile, descriptor: descriptor)
        var results: [CheckResult] = []
        for check in ContractCheck.all where only.isEmpty || only.contains(check.name) {
            let start = ContinuousClock.now
            let outcome: CheckOutcome
            if let reason = profile.skip[check.name] {
                outcome = .skipped("the profile skips it: \(reason)")
            } else if descriptor == nil && check.name != "handshake" {
                outcome = .skipped("the handshake failed")
            } else {
                outcome = check.body(env)
            }
            results.append(CheckResult(name: check.name, outcome: outcome, duration: ContinuousClock.now - start))
        }
        return ContractReport(target: target.description, descriptor: descriptor, results: results)
    }
}

public struct CheckResult: Sendable {
    public var name: String
    public var outcome: CheckOutcome
    public var duration: Duration
}

/// What a run of the checks found.
public struct ContractReport: Sendable {
    public var target: String
    public var descriptor: ContractDescriptor?
    public var results: [CheckResult]

    /// No check failed (skipped ones do not count against it).
    public var passed: Bool { !results.contains { $0.outcome.isFailure } }

    public func outcome(_ name: String) -> CheckOutcome? { results.first { $0.name == name }?.outcome }

    public var counts: (passed: Int, failed: Int, skipped: Int) {
        results.reduce(into: (0, 0, 0)) { counts, result in
            switch result.outcome {
            case .passed: counts.0 += 1
            case .failed: counts.1 += 1
            case .skipped: counts.2 += 1
            }
        }
    }

    /// A table for people: one line per check, then the totals.
    public var table: String {
        let width = max(13, results.map(\.name.count).max() ?? 0)
        var lines = ["Contract checks for \(target)" + (descriptor.map { " (\($0.name) \($0.version))" } ?? "") + ":"]
        for result in results {
            let name = result.name.padded(to: width)
            lines.append("  \(result.outcome.word)  \(name)  \(result.outcome.detail)  [\(result.duration.shortText)]")
        }
        let (passed, failed, skipped) = counts
        lines.append("\(passed) passed, \(failed) failed, \(skipped) skipped")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same for programs.
    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("target", .string(target))
        if let descriptor {
            object.appendUnchecked("executor", [
                "name": .string(descriptor.name), "version": .string(descriptor.version),
                "protocolVersion": .int(Int64(descriptor.protocolVersion)), "concurrent": .bool(descriptor.concurrent),
            ])
        }
        object.appendUnchecked("passed", .bool(passed))
        object.appendUnchecked("checks", .array(results.map { result in
            ["name": .string(result.name), "outcome": .string(result.outcome.word.lowercased()),
             "detail": .string(result.outcome.detail),
             "durationMs": .int(result.duration.wholeMilliseconds)]
        }))
        return .object(object)
    }
}

extension String {
    func padded(to length: Int) -> String { count >= length ? self : self + String(repeating: " ", count: length - count) }
}
