import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDocument
import PlanterJSON

/// An executor instance that serves phases (made on its first call).
public struct ExecutorBinding: Sendable {
    public let name: String
    public let plugin: String
    public let match: Labels
    public let executor: any Executor
    /// Secret values granted to this instance (name → value).
    public let secrets: [String: String]
}

/// The executor instances of one deployment, from the plugins found, and the rule that picks
/// one for a phase: the instance named by the phase's executor label (or the default) whose
/// match labels are all among the phase's labels; first defined wins. Picking is pure: no
/// instance is made to answer it.
public final class ExecutorRegistry: Sendable {
    public let deployment: Deployment
    public let catalog: PluginCatalog
    public let bindings: [ExecutorBinding]
    /// Instances that cannot serve (plugin not found, no executor host), with why (name → reason).
    public let unavailable: [String: String]
    public let masker: SecretMasker

    /// Decides which instance serves what; makes none of them (each is made on its first call,
    /// see LazyExecutor). Problems (unknown plugin, unreadable secret, no executor host for
    /// `isolation: process`) are returned, not thrown: the other executors still work.
    /// `builtIns` are executors compiled into the host, served under their plugin name
    /// (`noop` always is); embedders add their own Swift executors here.
    public init(deployment: Deployment, catalog: PluginCatalog, builtIns: [String: any Executor] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment,
                log: PluginExecutor.LogSink? = nil, externals: ExternalExecutorFactory? = nil) {
        var builtIns = builtIns
        if builtIns[NoopExecutor.name] == nil { builtIns[NoopExecutor.name] = NoopExecutor() }
        self.deployment = deployment
        self.catalog = catalog
        let secretsRead = SecretValues.read(deployment.secrets, environment: environment)
        let secretValues = secretsRead.values
        var problems = secretsRead.problems
        masker = SecretMasker(secrets: Array(secretValues.values))

        var bindings: [ExecutorBinding] = []
        var unavailable: [String: String] = [:]
        var definitions = deployment.executors
        if !definitions.contains(where: { $0.name == NoopExecutor.name }) {
            definitions.insert(ExecutorDefinition(name: NoopExecutor.name, plugin: NoopExecutor.name), at: 0)
        }
        for definition in definitions {
            let granted = Dictionary(uniqueKeysWithValues: definition.secrets.compactMap { name in
                secretValues[name].map { (name, $0) }
            })
            func bind(_ executor: any Executor, plugin: String) {
                bindings.append(ExecutorBinding(name: definition.name, plugin: plugin, match: definition.match,
                                                executor: executor, secrets: granted))
            }
            if let external = definition.external {
                // Served over NATS: made by the server that holds the connection.
                let made = externals.map { $0(definition, external) }
                    ?? .failure(ExternalExecutorUnavailable("it runs over NATS (\(external.pluginName)): set NATS_URL and use planter serve"))
                switch made {
                case .success(let executor): bind(executor, plugin: external.pluginName)
                case .failure(let error):
                    unavailable[definition.name] = error.description
                    problems.warning(definition.path, error.description)
                }
                continue
            }
            if definition.runsInSubprocess {
                // A `command`, or a plugin with `isolation: process`: started on first use.
                switch Self.subprocessExecutor(for: definition, catalog: catalog, environment: environment, log: log) {
                case .success(let made): bind(made.executor, plugin: made.plugin)
                case .failure(let error):
                    unavailable[definition.name] = error.reason
                    problems.warning(JSONPointer.append(definition.path, error.field), error.reason)
                }
                continue
            }
            if let builtIn = builtIns[definition.plugin] {
                bind(builtIn, plugin: definition.plugin)
                continue
            }
            guard catalog.path(named: definition.plugin) != nil else {
                let reason = Self.pluginNotFoundReason(definition.plugin, catalog)
                unavailable[definition.name] = reason
                // Not fatal: phases that use this executor fail validation, the others run.
                problems.warning(JSONPointer.append(definition.path, "plugin"), reason)
                continue
            }
            // The plugin is loaded with its first instance: a plan that never uses it loads nothing.
            let (name, config, pluginName) = (definition.name, definition.config, definition.plugin)
            bind(LazyExecutor(name: name) { () throws(PluginFailure) in
                guard let plugin = catalog.plugin(named: pluginName) else {
                    // ExecutorRegistry, not Self: in a class, Self would capture the half-made self.
                    throw PluginFailure(path: catalog.path(named: pluginName) ?? pluginName,
                                        reason: ExecutorRegistry.pluginNotFoundReason(pluginName, catalog))
                }
                return try plugin.makeExecutor(name: name, config: config, log: log)
            }, plugin: pluginName)
        }
        self.bindings = bindings
        self.unavailable = unavailable
        self.problems = problems
    }

    /// Problems met while reading the deployment's executors and secrets (config pointers).
    public let problems: Problems

    public enum DispatchError: Error, Sendable, CustomStringConvertible {
        case undefined(name: String, known: [String])
        case noMatch(name: String, labels: Labels)
        case unavailable(name: String, reason: String)

        public var description: String {
            switch self {
            case .undefined(let name, let known):
                let hint = NearestName.hint(for: name, in: known)
                return "executor \"\(name)\" is not defined by the deployment (\(hint)defined: \(known.joined(separator: ", ")))"
            case .noMatch(let name, _):
                return "no instance of executor \"\(name)\" matches the phase's labels"
            case .unavailable(let name, let reason):
                return "executor \"\(name)\" is unavailable: \(reason)"
            }
        }
    }

    /// Shuts every instance down: plugins are destroyed (once their calls in flight return),
    /// subprocess executors stopped and waited for. For the end of a run or of the server;
    /// calls made afterwards fail.
    public func close() {
        for binding in bindings {
            if let lazy = binding.executor as? LazyExecutor { lazy.close() }
            if let subprocess = binding.executor as? SubprocessExecutor { subprocess.shutdown() }
        }
    }

    /// The executor name a phase asks for.
    public func requestedName(for labels: Labels) -> String {
        labels[deployment.executorLabel] ?? deployment.defaultExecutor
    }

    public func resolve(labels: Labels) -> Result<ExecutorBinding, DispatchError> {
        let name = requestedName(for: labels)
        var sawName = false
        for binding in bindings where binding.name == name {
            sawName = true
            if labels.contains(all: binding.match) { return .success(binding) }
        }
        if let reason = unavailable[name] { return .failure(.unavailable(name: name, reason: reason)) }
        if sawName { return .failure(.noMatch(name: name, labels: labels)) }
        var known: [String] = []
        for binding in bindings where !known.contains(binding.name) { known.append(binding.name) }
        return .failure(.undefined(name: name, known: known))
    }
}
