import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterHost
import PlanterJSON

/// What one fuzz input is fed to. Each target checks properties, not just "no crash": a
/// property that fails stops the fuzzer with a message, and libFuzzer saves the input.
enum FuzzTarget: String, CaseIterable {
    /// JSONParser, then JSONWriter (compact and pretty) and back.
    case json
    /// A manifest in either format (`.automatic`), through the decoder, the validator, the
    /// canonical encoder, the diff and backoff arithmetic.
    case manifest
    /// The same checks with the format forced to YAML, so JSON-looking text meets Yams too.
    case manifestYAML = "manifest-yaml"
    /// A deployment config (`planter.yaml`) through `Deployment.decode`.
    case deployment

    func run(_ bytes: [UInt8]) {
        switch self {
        case .json: JSONChecks.check(bytes)
        case .manifest: ManifestChecks.check(bytes, format: .automatic)
        case .manifestYAML: ManifestChecks.check(bytes, format: .yaml)
        case .deployment: DeploymentChecks.check(bytes)
        }
    }
}

/// Stops the run with the property that failed; libFuzzer reports the trap as a crash and
/// writes the input next to it (`-artifact_prefix`).
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("property failed: \(message())", file: file, line: line) }
}

enum JSONChecks {
    static func check(_ bytes: [UInt8]) {
        let value: JSON
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            // An error must point inside the input, so a user can find it.
            require(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside \(bytes.count) bytes")
            require(error.line >= 1 && error.column >= 1, "error at line \(error.line), column \(error.column)")
            require(!error.message.isEmpty, "an error without a message")
            return
        }
        let compact = value.serialized
        for text in [compact, value.prettySerialized] {
            let again: JSON
            do {
                again = try JSONParser.parse(text)
            } catch {
                require(false, "the writer's output does not parse (\(error)): \(text.prefix(300))")
                return
            }
            require(again == value, "write then parse changed the value: \(text.prefix(300))")
            require(again.serialized == compact, "writing is not stable: \(compact.prefix(300)) vs \(again.serialized.prefix(300))")
        }
    }
}

enum DeploymentChecks {
    static func check(_ bytes: [UInt8]) {
        guard case .success(let document) = DocumentParser.parse(bytes, format: .automatic) else { return }
        let (deployment, problems) = Deployment.decode(document, source: "fuzz")
        Pointers.checkProblems(problems.all, in: document)
        guard !problems.hasErrors else { return }
        require(deployment.parallel.map { (1...4096).contains($0) } ?? true, "parallel \(deployment.parallel!) was accepted")
        Backoff.check(deployment.backoff, attempts: 12)
    }
}

enum Backoff {
    /// The delay arithmetic must not trap on anything validation lets through.
    static func check(_ policy: BackoffPolicy, attempts: Int) {
        for attempt in [1, 2, 3, max(1, attempts), 1000, Int.max] {
            for random in [0.0, 0.5, 0.999_999] {
                let delay = policy.delay(afterAttempt: attempt, random: random)
                require(delay.milliseconds >= 0, "negative backoff \(delay) after attempt \(attempt) with \(policy)")
                require(delay <= max(policy.maxDelay, PlanDuration(milliseconds: 0)),
                        "backoff \(delay) beyond maxDelay \(policy.maxDelay) with \(policy)")
            }
        }
    }
}
