import Foundation
import PlanterJSON

/// An executor instance ready to serve phases.
public struct ExecutorBinding: Sendable {
    public let name: String
    public let plugin: String
    public let match: Labels
    public let executor: any Executor
    /// Secret values granted to this instance (name → value).
    public let secrets: [String: String]
}

/// The executor instances of one deployment, created from the plugins found, and the rule
/// that picks one for a phase: the instance named by the phase's executor label (or the
/// default) whose match labels are all among the phase's labels; first defined wins.
public final class ExecutorRegistry: Sendable {
    public let deployment: Deployment
    public let catalog: PluginCatalog
    public let bindings: [ExecutorBinding]
    /// Instances that could not be created, with why (name → reason).
    public let unavailable: [String: String]
    public let masker: SecretMasker

    /// Creates every instance the deployment defines. Problems (unknown plugin, create
    /// error, unreadable secret) are returned, not thrown: the other executors still work.
    /// `builtIns` are executors compiled into the host, served under their plugin name
    /// (`noop` always is); embedders add their own Swift executors here.
    public init(deployment: Deployment, catalog: PluginCatalog, builtIns: [String: any Executor] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment,
                log: PluginExecutor.LogSink? = nil) {
        var builtIns = builtIns
        if builtIns[NoopExecutor.name] == nil { builtIns[NoopExecutor.name] = NoopExecutor() }
        self.deployment = deployment
        self.catalog = catalog
        var problems = Problems()
        var secretValues: [String: String] = [:]
        for secret in deployment.secrets {
            switch secret.source {
            case .environment(let variable):
                if let value = environment[variable] {
                    secretValues[secret.name] = value
                } else {
                    problems.error(secret.path, "secret \(secret.name): environment variable \(variable) is not set")
                }
            case .file(let path):
                if let data = FileManager.default.contents(atPath: path) {
                    var value = String(decoding: data, as: UTF8.self)
                    while value.hasSuffix("\n") || value.hasSuffix("\r") { value.removeLast() }
                    secretValues[secret.name] = value
                } else {
                    problems.error(secret.path, "secret \(secret.name): cannot read \(path)")
                }
            }
        }
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
            if definition.runsInSubprocess {
                // A `command`, or a plugin with `isolation: process`: started on first use.
                switch Self.subprocessExecutor(for: definition, catalog: catalog, environment: environment, log: log) {
                case .success(let made):
                    bindings.append(ExecutorBinding(name: definition.name, plugin: made.plugin, match: definition.match,
                                                    executor: made.executor, secrets: granted))
                case .failure(let error):
                    unavailable[definition.name] = error.reason
                    problems.warning(JSONPointer.append(definition.path, error.field), error.reason)
                }
                continue
            }
            if let builtIn = builtIns[definition.plugin] {
                bindings.append(ExecutorBinding(name: definition.name, plugin: definition.plugin, match: definition.match,
                                                executor: builtIn, secrets: granted))
                continue
            }
            guard let plugin = catalog.plugin(named: definition.plugin) else {
                let known = catalog.plugins.map(\.name).sorted().joined(separator: ", ")
                let failure = catalog.failures.first { ($0.path as NSString).lastPathComponent == "\(PluginLoader.filePrefix)\(definition.plugin)\(PluginLoader.fileSuffix)" }
                let reason = failure.map { "plugin \"\(definition.plugin)\" failed to load: \($0.reason)" }
                    ?? "no plugin named \"\(definition.plugin)\" was found (found: \(known.isEmpty ? "none" : known))"
                unavailable[definition.name] = reason
                // Not fatal: phases that use this executor fail validation, the others run.
                problems.warning(JSONPointer.append(definition.path, "plugin"), reason)
                continue
            }
            do {
                let executor = try plugin.makeExecutor(name: definition.name, config: definition.config, log: log)
                bindings.append(ExecutorBinding(name: definition.name, plugin: plugin.name, match: definition.match,
                                                executor: executor, secrets: granted))
            } catch {
                unavailable[definition.name] = error.reason
                problems.warning(JSONPointer.append(definition.path, "config"), error.reason)
            }
        }
        self.bindings = bindings
        self.unavailable = unavailable
        self.problems = problems
    }

    /// Problems met while creating the instances (config pointers).
    public let problems: Problems

    public enum DispatchError: Error, Sendable, CustomStringConvertible {
        case undefined(name: String, known: [String])
        case noMatch(name: String, labels: Labels)
        case unavailable(name: String, reason: String)

        public var description: String {
            switch self {
            case .undefined(let name, let known):
                let hint = PhaseGraph.closestID(to: name, in: known).map { "did you mean \"\($0)\"? " } ?? ""
                return "executor \"\(name)\" is not defined by the deployment (\(hint)defined: \(known.joined(separator: ", ")))"
            case .noMatch(let name, _):
                return "no instance of executor \"\(name)\" matches the phase's labels"
            case .unavailable(let name, let reason):
                return "executor \"\(name)\" is unavailable: \(reason)"
            }
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

/// Replaces secret values with `***` in anything Planter records or shows.
public struct SecretMasker: Sendable {
    public let secrets: [String]

    public init(secrets: [String]) {
        // Longest first, so a secret containing another is masked whole; empty ones mask nothing.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    public var isEmpty: Bool { secrets.isEmpty }

    public func mask(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.components(separatedBy: secret).joined(separator: "***")
        }
        return text
    }

    public func mask(_ json: JSON) -> JSON {
        guard !secrets.isEmpty else { return json }
        switch json {
        case .string(let s): return .string(mask(s))
        case .array(let a): return .array(a.map(mask))
        case .object(let o): return .object(JSONObject(o.members.map { JSONObject.Member(key: $0.key, value: mask($0.value)) }))
        default: return json
        }
    }
}
