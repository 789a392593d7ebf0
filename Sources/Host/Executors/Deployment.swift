import Foundation
import PlanterJSON

/// A deployment config (`planter.yaml`): which executor instances exist, which plugin serves
/// each, and with what config. The same manifest runs under another deployment by swapping
/// this file: `executor: deploy` can be the shell plugin in dev and the container plugin in prod.
public struct Deployment: Sendable {
    /// The `matchLabels` key that names a phase's executor.
    public var executorLabel = "executor"
    /// The executor for phases that do not name one.
    public var defaultExecutor = NoopExecutor.name
    /// Parallel phases when the command line does not say.
    public var parallel: Int?
    public var backoff = BackoffPolicy()
    /// Bytes of output kept per phase (the tail); the rest is counted.
    public var outputTailBytes = 64 * 1024
    public var secrets: [SecretDefinition] = []
    public var executors: [ExecutorDefinition] = []
    /// Extra plugin folders, searched before the standard ones.
    public var pluginPath: [String] = []
    /// Where this deployment came from, for messages ("built-in default" or a file path).
    public var source = "built-in default"

    public init() {}

    /// The deployment used when no config file is given: `noop` plus one executor per plugin
    /// found, named after the plugin.
    public static func builtIn(plugins: PluginCatalog) -> Deployment {
        var deployment = Deployment()
        deployment.executors = plugins.plugins.map { ExecutorDefinition(name: $0.name, plugin: $0.name) }
        return deployment
    }
}

public struct ExecutorDefinition: Sendable {
    public var name: String
    /// The plugin that serves it (`noop` is built in).
    public var plugin: String
    /// The instance serves a phase only when all these labels are in the phase's matchLabels.
    public var match = Labels()
    /// Handed to the plugin's create function.
    public var config: JSON = .object(JSONObject())
    /// Names of the deployment's secrets this executor receives.
    public var secrets: [String] = []
    /// JSON pointer of the definition in the config, for messages.
    public var path = ""
    /// A subprocess executor: the program (argv) to start, instead of a plugin (`plugin` is then empty).
    public var command: [String]?
    /// Where a plugin runs: in the host process (default) or in `planter-executor-host`.
    public var isolation = Isolation.inProcess
    /// Environment variables added for the executor's process (command or isolated plugin).
    public var env: [String: String] = [:]
    /// How long the executor's process may take to answer the handshake and configure.
    public var startTimeout: PlanDuration?

    /// Where an executor runs.
    public enum Isolation: String, Sendable, Equatable {
        /// Loaded with dlopen into the host: fastest; a crash takes the host down.
        case inProcess = "inProcess"
        /// A child process speaking the subprocess protocol: a crash fails only the calls in flight.
        case process = "process"
    }

    /// Whether the executor runs as a child process (a `command`, or a plugin with `isolation: process`).
    public var runsInSubprocess: Bool { command != nil || isolation == .process }

    public init(name: String, plugin: String, match: Labels = Labels(), config: JSON = .object(JSONObject()),
                secrets: [String] = [], path: String = "") {
        self.name = name
        self.plugin = plugin
        self.match = match
        self.config = config
        self.secrets = secrets
        self.path = path
    }
}

public struct SecretDefinition: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case environment(String)
        case file(String)
    }

    public var name: String
    public var source: Source
    public var path: String
}

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
