import Foundation
import Hummingbird
import Logging
import NIOCore
import PlanterCore
import PlanterDeployment
import PlanterHost
import PlanterStore
import ServiceLifecycle

/// `planter serve`: the PlanterService behind Hummingbird, with graceful shutdown (SIGTERM,
/// SIGINT, POST /STOP), SIGHUP reload, sync-from, and Prometheus metrics.
public struct PlanterServer: Sendable {
    public enum StartupError: Error, CustomStringConvertible {
        /// The deployment config is invalid (exit 2).
        case invalidConfig([Problem])
        /// The history database can neither be opened nor moved aside.
        case history(String)

        public var description: String {
            switch self {
            case .invalidConfig(let problems): return "the deployment config is invalid:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
            case .history(let message): return message
            }
        }
    }

    public let settings: ServerSettings
    public let service: PlanterService
    let environment: ServerEnvironment
    let logger: Logger
    /// The first sync-from failed: the SyncFrom service keeps trying.
    let syncPending: Bool

    /// Loads the deployment and the state file (and, without local state, the remote's plan).
    public init(settings: ServerSettings, logger: Logger) async throws {
        self.settings = settings
        self.logger = logger
        let setup: DeploymentSetup
        switch DeploymentSetup.prepare(configPath: settings.configPath) {
        case .success(let prepared): setup = prepared
        case .failure(let failure): throw StartupError.invalidConfig(failure.problems)
        }
        for warning in setup.registry.problems.warnings {
            logger.warning("deployment: \(warning.message)", metadata: ["path": "\(warning.path)"])
        }
        for failure in setup.catalog.failures {
            logger.warning("plugin not loaded", metadata: ["path": "\(failure.path)", "reason": "\(failure.reason)"])
        }

        let metrics = ServerMetrics()
        var configuration = ServiceConfiguration()
        configuration.parallel = settings.parallel ?? setup.deployment.parallel ?? RunOptions.defaultParallel
        configuration.shutdownGrace = settings.shutdownGrace
        configuration.strict = PlanValidator.strictFromEnvironment(ProcessInfo.processInfo.environment)
        let stateFile = StateFile(root: settings.root)
        let hadState = stateFile.exists
        configuration.retention = Retention(runs: setup.deployment.historyRuns, days: setup.deployment.historyDays)
        let eventLog = EventLog()
        let history: History
        switch await History.open(path: History.path(root: settings.root), eventLog: eventLog) {
        case .success(let (opened, warning)):
            history = opened
            if let warning { logger.warning("\(warning)") }
        case .failure(let error):
            throw StartupError.history(error.description)
        }
        let service = PlanterService(setup: setup, configuration: configuration, stateFile: stateFile, eventLog: eventLog,
                                     history: history, sinks: [RunObserver(metrics: metrics, logger: logger)])
        for warning in await service.start() { logger.warning("\(warning)") }
        if let pruned = await service.pruneHistory() { logger.info("\(pruned)") }
        logger.info("history", metadata: ["path": "\(history.store.path)"])
        logger.info("state", metadata: ["path": "\(stateFile.path)", "loaded": "\(hadState)"])

        var syncPending = false
        if let remote = settings.syncFrom, !hadState {
            let outcome = await SyncFrom.syncOnce(remote: remote, token: settings.syncToken, service: service, logger: logger,
                                                  timeout: .seconds(2))
            syncPending = outcome == .failed
        }
        self.service = service
        self.syncPending = syncPending
        environment = ServerEnvironment(service: service, eventLog: eventLog, settings: settings, metrics: metrics, shutdown: ShutdownTrigger(logger: logger),
                                        openAPI: OpenAPIDocument.load(), logger: logger)
    }

    /// Every route, under the prefix.
    static func routes(_ environment: ServerEnvironment) -> RouteTable {
        var table = RouteTable(prefix: environment.settings.prefix)
        PlanRoutes.register(in: &table, environment)
        InspectionRoutes.register(in: &table, environment)
        StatusRoutes.register(in: &table, environment)
        LogRoutes.register(in: &table, environment)
        SystemRoutes.register(in: &table, environment)
        environment.metrics.requests.setPatterns(table.patterns)
        return table
    }

    @MiddlewareFixedTypeBuilder<Request, Response, PlanterRequestContext>
    static func middleware(_ environment: ServerEnvironment) -> some MiddlewareProtocol<Request, Response, PlanterRequestContext> {
        MetricsMiddleware(counters: environment.metrics.requests)
        ErrorMiddleware(requestIDs: environment.requestIDs)
        AuthMiddleware(token: environment.settings.token)
    }

    func application() -> some ApplicationProtocol {
        let settings = self.settings
        let logger = self.logger
        let responder = Dispatcher(table: Self.routes(environment), chain: Self.middleware(environment))
        return Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                logger.notice("Planter \(PlanterVersion.current) listening on http://\(settings.host):\(port)\(settings.prefix)",
                              metadata: ["host": "\(settings.host)", "port": "\(port)"])
                if settings.token == nil && settings.listensBeyondLoopback {
                    logger.warning("no PLANTER_TOKEN: the API is open to anyone who can reach \(settings.host):\(port)")
                }
            },
            logger: logger
        )
    }

    /// Serves until SIGTERM, SIGINT or POST /STOP; then saves the state and returns.
    public func run() async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: application()),
            .init(service: ServiceShutdown(service: service, logger: logger)),
            .init(service: ReloadOnHangup(service: service, logger: logger)),
        ]
        if let remote = settings.syncFrom, syncPending || settings.syncInterval != nil {
            services.append(.init(service: SyncFrom(remote: remote, token: settings.syncToken, interval: settings.syncInterval,
                                                    pendingInitial: syncPending, service: service, logger: logger),
                                  successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        await environment.shutdown.attach(group)
        // Retention also applies when no run ends for a long time (`days`).
        let service = self.service
        let logger = self.logger
        let pruner = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
                if let line = await service.pruneHistory() { logger.info("\(line)") }
            }
        }
        defer { pruner.cancel() }
        try await group.run()
        logger.notice("Planter stopped")
    }
}
