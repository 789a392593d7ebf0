import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDocument

/// Everything a command needs before it can validate or run: the deployment (from
/// `--config`, `PLANTER_CONFIG`, or the built-in default), the plugins found, and the
/// executor instances created from both.
public struct DeploymentSetup: Sendable {
    public let deployment: Deployment
    public let catalog: PluginCatalog
    public let registry: ExecutorRegistry

    /// A setup made in code (embedders, tests): executors given directly, no config file read.
    public init(deployment: Deployment, catalog: PluginCatalog, registry: ExecutorRegistry) {
        self.deployment = deployment
        self.catalog = catalog
        self.registry = registry
    }

    /// Fails (with pointers into the config) only when the config itself is invalid;
    /// plugins that fail to load are reported in `catalog.failures` and the rest still work.
    public static func prepare(configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               log: PluginExecutor.LogSink? = nil,
                               externals: ExternalExecutorFactory? = nil) -> Result<DeploymentSetup, ValidationFailure> {
        var deployment: Deployment?
        if let path = configPath ?? environment["PLANTER_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            switch Deployment.load(path: path) {
            case .failure(let failure): return .failure(failure)
            case .success(let loaded): deployment = loaded
            }
        }
        let searchPath = (deployment?.pluginPath ?? []) + PluginCatalog.searchPath(environment: environment)
        let catalog = PluginCatalog.discover(in: searchPath)
        let chosen = deployment ?? Deployment.builtIn(plugins: catalog)
        let registry = ExecutorRegistry(deployment: chosen, catalog: catalog, environment: environment, log: log, externals: externals)
        if deployment != nil, registry.problems.hasErrors {
            let problems = registry.problems.all.map { Problem($0.severity, $0.path, "\(chosen.source): \($0.message)") }
            return .failure(ValidationFailure(problems))
        }
        return .success(DeploymentSetup(deployment: chosen, catalog: catalog, registry: registry))
    }
}
