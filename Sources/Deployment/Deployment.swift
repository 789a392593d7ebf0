import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDocument
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
    /// How much run history the server keeps (`history: {runs: N, days: D}`); nil: no limit.
    public var historyRuns: Int?
    public var historyDays: Int?
    /// Per-namespace limits of the server (`namespaces: {team-a: {parallel: 2}}`): at most this many
    /// of the namespace's phases at once.
    public var namespaceParallel: [String: Int] = [:]
    /// The executors a namespace's phases may use (`namespaces: {team-a: {executors: [build]}}`); absent: any.
    public var namespaceExecutors: [String: [String]] = [:]
    /// Extra plugin folders, searched before the standard ones.
    public var pluginPath: [String] = []
    /// Where this deployment came from, for messages ("built-in default" or a file path).
    public var source = "built-in default"

    public init() {}

    /// The deployment used when no config file is given: `noop` plus one executor per plugin
    /// found, named after the plugin.
    public static func builtIn(plugins: PluginCatalog) -> Deployment {
        var deployment = Deployment()
        deployment.executors = plugins.names.map { ExecutorDefinition(name: $0, plugin: $0) }
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
    /// JSON pointer of `secrets` as the config spells it (keys match case-insensitively), for messages.
    var secretsPath = ""
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
    /// Served over NATS instead of a plugin or command (ExternalExecutors.swift).
    public var external: External?

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
