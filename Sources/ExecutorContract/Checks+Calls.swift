import ExecutorRuntime
import Foundation
import PlanterJSON

extension Checks {
    static func streaming(_ env: CheckEnvironment) -> CheckOutcome {
        guard let stream = env.profile.stream, let text = stream.expect?.stringValue, !text.isEmpty else {
            return .skipped("the profile has no stream case with expect text (a call that writes that text to its output)")
        }
        return env.withInstance(config: stream.config) { executor in
            switch env.call(executor, stream.request(id: "streaming")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                guard outcome.result.status == .succeeded else {
                    return .failed("the stream case gave \(outcome.result.summary); expected succeeded" + env.logTail)
                }
                if (outcome.stdout + outcome.stderr).contains(text) {
                    return .passed("\"\(text)\" streamed in \(outcome.chunks) chunk(s) during the call")
                }
                if outcome.result.output?.contains(text) == true {
                    return .passed("\"\(text)\" returned in the result's output (not streamed)")
                }
                return .failed("the output does not contain \"\(text)\"; it was: \(quoted(outcome.allOutput))")
            }
        }
    }

    static func outputs(_ env: CheckEnvironment) -> CheckOutcome {
        guard let outputsCase = env.profile.outputs, let expected = outputsCase.expect?.objectValue else {
            return .skipped("the profile has no outputs case with an expect object (outputs the call must return)")
        }
        return env.withInstance(config: outputsCase.config) { executor in
            switch env.call(executor, outputsCase.request(id: "outputs")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                let result = outcome.result
                guard result.status == .succeeded else {
                    return .failed("the outputs case gave \(result.summary); expected succeeded" + env.logTail)
                }
                for member in expected where result.outputs[member.key] != member.value {
                    let got = result.outputs[member.key].map(\.serialized) ?? "nothing"
                    return .failed("outputs.\(member.key) is \(got); expected \(member.value.serialized) "
                        + "(outputs: \(JSON.object(result.outputs).serialized))")
                }
                return .passed("outputs hold \(JSON.object(expected).serialized)")
            }
        }
    }

    static func outputsBound(_ env: CheckEnvironment) -> CheckOutcome {
        guard let big = env.profile.oversizedOutputs else {
            return .skipped("the profile has no oversizedOutputs case (a call whose outputs are over the executor's limit)")
        }
        return env.withInstance(config: big.config) { executor in
            switch env.call(executor, big.request(id: "outputs-bound")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                let result = outcome.result
                guard result.status == .failed || result.status == .invalid else {
                    return .failed("oversized outputs gave \(result.summary) "
                        + "(\(JSON.object(result.outputs).serialized.utf8.count) bytes of outputs); expected failed")
                }
                if let wanted = big.message, !result.message.contains(wanted) {
                    return .failed("\(result.status.rawValue), but the message does not contain \"\(wanted)\": \(result.message)")
                }
                return .passed("\(result.summary)")
            }
        }
    }

    static func concurrency(_ env: CheckEnvironment) -> CheckOutcome {
        guard let stream = env.profile.stream, let text = stream.expect?.stringValue, !text.isEmpty else {
            return .skipped("needs the profile's stream case (with expect text) to tell the calls' output apart")
        }
        let threads = env.profile.concurrency
        let rounds = 3
        return env.withInstance(config: stream.config) { executor in
            // One call alone first: how often the text appears in one call's output.
            let single: ContractCall.Outcome
            switch env.call(executor, stream.request(id: "single")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome): single = outcome
            }
            let once = occurrences(of: text, in: single.allOutput)
            guard single.result.status == .succeeded, once > 0 else {
                return .failed("the stream case alone gave \(single.result.summary) with output \(quoted(single.allOutput))")
            }
            for round in 0..<rounds {
                let calls = (0..<threads).map { ContractCall(executor, stream.request(id: "c\(round)-\($0)")) }
                for (index, call) in calls.enumerated() {
                    guard let outcome = call.wait(.seconds(120)) else {
                        calls.forEach { $0.context.cancel(reason: "contract check gave up") }
                        return .failed("call \(index + 1) of \(threads) at once did not return within 120 s" + env.logTail)
                    }
                    guard outcome.result.status == .succeeded else {
                        return .failed("call \(index + 1) of \(threads) at once gave \(outcome.result.summary)" + env.logTail)
                    }
                    let count = occurrences(of: text, in: outcome.allOutput)
                    guard count == once else {
                        return .failed("call \(index + 1) of \(threads) at once got \"\(text)\" \(count) time(s) in its output, "
                            + "one call alone gets it \(once) time(s): output went to the wrong call")
                    }
                }
            }
            let mode = env.descriptor?.concurrent == true ? "in parallel (concurrent execute declared)"
                : "serialised by the host (no concurrent execute declared)"
            return .passed("\(threads * rounds) calls, \(threads) at a time, \(mode)")
        }
    }

    static func occurrences(of text: String, in output: String) -> Int {
        output.components(separatedBy: text).count - 1
    }

    static func quoted(_ text: String) -> String {
        let short = text.count > 200 ? String(text.prefix(200)) + "…" : text
        return JSON.string(short).serialized
    }
}
