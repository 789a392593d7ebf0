import ExecutorRuntime
import PlanterCore
import PlanterDocument
import PlanterJSON

#if canImport(Glibc)
import Glibc
#endif

extension ExecutorRegistry {
    /// The executor for a definition that runs as a child process: its `command`, or, with
    /// `isolation: process`, planter-executor-host serving the plugin. Returns the plugin name to
    /// show for the binding, or why the executor is unavailable (with the config field to blame).
    static func subprocessExecutor(
        for definition: ExecutorDefinition, catalog: PluginCatalog, environment: [String: String],
        log: PluginExecutor.LogSink?
    ) -> Result<(executor: SubprocessExecutor, plugin: String), SubprocessSetupError> {
        var options: SubprocessExecutor.Options
        let pluginName: String
        if let command = definition.command {
            guard !command.isEmpty else { return .failure(SubprocessSetupError(field: "command", reason: "empty command")) }
            options = SubprocessExecutor.Options(command: command)
            pluginName = subprocessPluginName
        } else {
            // planter-executor-host loads the plugin in its own process: the host needs only its path.
            guard let pluginPath = catalog.path(named: definition.plugin) else {
                return .failure(SubprocessSetupError(field: "plugin", reason: pluginNotFoundReason(definition.plugin, catalog)))
            }
            let host: String
            switch ExecutorHostLocator.find(environment: environment) {
            case .failure(let error): return .failure(SubprocessSetupError(field: "isolation", reason: error.description))
            case .success(let path): host = path
            }
            options = SubprocessExecutor.Options(command: [host, pluginPath, "--name", definition.name])
            // A crash should end the executor host at once: the Swift runtime's backtracer would
            // first spend seconds symbolicating. Set SWIFT_BACKTRACE in `env` to get backtraces.
            options.environment["SWIFT_BACKTRACE"] = "enable=no"
            pluginName = definition.plugin
        }
        for (key, value) in definition.env { options.environment[key] = value }
        options.config = definition.config
        if let timeout = definition.startTimeout { options.startTimeout = timeout }
        return .success((SubprocessExecutor(name: definition.name, options: options, log: log), pluginName))
    }

    /// What bindings of `command` executors show as their plugin.
    public static let subprocessPluginName = "subprocess"

    static func pluginNotFoundReason(_ name: String, _ catalog: PluginCatalog) -> String {
        if let failure = catalog.failure(named: name) {
            return "plugin \"\(name)\" failed to load: \(failure.reason)"
        }
        let known = catalog.plugins.map(\.name).sorted().joined(separator: ", ")
        return "no plugin named \"\(name)\" was found (found: \(known.isEmpty ? "none" : known))"
    }
}

struct SubprocessSetupError: Error {
    /// The definition's field the problem points at.
    var field: String
    var reason: String
}
