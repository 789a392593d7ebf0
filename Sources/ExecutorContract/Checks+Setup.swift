import ExecutorRuntime
import PlanterJSON

/// The checks, one function each; `ContractCheck.all` names them. These read the descriptor and
/// make instances; Checks+Calls and Checks+Cancel make calls.
enum Checks {
    static func handshake(_ env: CheckEnvironment) -> CheckOutcome {
        guard let descriptor = env.descriptor else {
            if let error = env.subject.loadError { return .failed("the host refused to load it: \(error.reason)") }
            switch env.subject.descriptor(config: env.profile.config) {
            case .failure(let failure): return .failed("no handshake: \(failure.description)" + env.logTail)
            case .success: return .failed("no handshake")
            }
        }
        let expected = env.subject.target.isInProcess ? Int(planterABIVersion) : SubprocessProtocol.version
        let what = env.subject.target.isInProcess ? "ABI" : "subprocess protocol"
        guard descriptor.protocolVersion == expected else {
            return .failed("speaks \(what) version \(descriptor.protocolVersion); this host speaks \(expected)")
        }
        guard isValidName(descriptor.name) else { return .failed("name \"\(descriptor.name)\" is not [a-z0-9_-]+") }
        guard !descriptor.version.isEmpty, descriptor.version != "unknown" else {
            return .failed("\(descriptor.name) declares no version")
        }
        return .passed("\(descriptor.name) \(descriptor.version), \(what) \(descriptor.protocolVersion), "
            + (descriptor.concurrent ? "concurrent execute" : "one call at a time"))
    }

    static func create(_ env: CheckEnvironment) -> CheckOutcome {
        env.withInstance { _ in .passed("created with config \(env.profile.config.serialized)") }
    }

    static func badConfig(_ env: CheckEnvironment) -> CheckOutcome {
        guard let bad = env.profile.badConfig, let config = bad.config else {
            return .skipped("the profile has no badConfig.config (a config create must refuse)")
        }
        switch env.subject.instance(config: config) {
        case .success(let instance):
            instance.destroy()
            return .failed("create accepted the bad config \(config.serialized); it must refuse it with a message")
        case .failure(let failure):
            let message = failure.description
            if message.isEmpty { return .failed("create refused the bad config without a message") }
            if let wanted = bad.message, !message.contains(wanted) {
                return .failed("create refused the bad config, but its message does not contain \"\(wanted)\": \(message)")
            }
            let after = env.withInstance { _ in .passed("") }
            if after.isFailure { return .failed("after refusing a bad config, a good one fails too: \(after.detail)") }
            return .passed("refused: \(message)")
        }
    }

    /// Only in process: the subprocess protocol carries requests the host wrote itself.
    static func badRequest(_ env: CheckEnvironment) -> CheckOutcome {
        guard env.subject.target.isInProcess else {
            return .skipped("requests reach a subprocess executor as the host wrote them; bad payloads are checked by bad-payload")
        }
        let instance: ContractInstance
        switch env.instance() {
        case .failure(let stop): return stop.outcome
        case .success(let made): instance = made
        }
        defer { instance.destroy() }
        guard let executor = instance.executor as? PluginExecutor else { return .failed("not a plugin executor") }
        let requests = ["[1,2,3]": "a JSON array", "{\"runId\": \"r-contract\", \"payload\": ": "truncated JSON"]
        var answers: [String] = []
        for (text, what) in requests.sorted(by: { $0.key < $1.key }) {
            let result = executor.execute(requestJSON: Array(text.utf8), call: CallContext())
            guard result.status == .invalid else {
                return .failed("a request that is \(what) (\(text)) gave \(result.summary); expected status invalid")
            }
            answers.append("\(what): \(result.summary)")
        }
        return .passed(answers.joined(separator: "; "))
    }

    static func badPayload(_ env: CheckEnvironment) -> CheckOutcome {
        guard let bad = env.profile.badPayload else {
            return .skipped("the profile has no badPayload (a payload the executor must answer with status invalid)")
        }
        return env.withInstance(config: bad.config) { executor in
            switch env.call(executor, bad.request(id: "bad-payload")) {
            case .failure(let stop): return stop.outcome
            case .success(let outcome):
                let result = outcome.result
                guard result.status == .invalid else {
                    return .failed("payload \(bad.payload.serialized) gave \(result.summary); expected status invalid "
                        + "(the payload is wrong: retrying cannot help)")
                }
                guard !result.message.isEmpty else { return .failed("status invalid, but no message saying what is wrong") }
                if let wanted = bad.message, !result.message.contains(wanted) {
                    return .failed("status invalid, but the message does not contain \"\(wanted)\": \(result.message)")
                }
                return .passed("invalid: \(result.message)")
            }
        }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }
}
