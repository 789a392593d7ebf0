import Foundation
import Hummingbird
import Logging
import NIOCore
import PlanterCore
import PlanterDeployment
import PlanterHost
import PlanterMessaging
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
        /// The tokens file (`PLANTER_TOKENS_FILE`) is invalid (exit 2).
        case invalidTokens(path: String, [Problem])
        /// The NATS connection cannot be set up (bad credentials file, options) (exit 2).
        case nats(String)

        public var description: String {
            switch self {
            case .invalidConfig(let problems): return "the deployment config is invalid:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
            case .history(let message), .nats(let message): return message
            case .invalidTokens(let path, let problems):
                return "the tokens file \(path) (PLANTER_TOKENS_FILE) is invalid:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
            }
        }
    }

    public let settings: ServerSettings
    let namespaces: Namespaces
    /// The `default` namespace's service (the root routes').
    public var service: PlanterService { namespaces.defaultService }
    let environment: ServerEnvironment
    let logger: Logger
    /// The first sync-from failed: the SyncFrom service keeps trying.
    let syncPending: Bool

    /// Loads the deployment and the state file (and, without local state, the remote's plan).
    public init(settings: ServerSettings, logger: Logger) async throws {
        self.settings = settings
        self.logger = logger
        var grants = settings.token.map { [AccessTokens.single($0)] } ?? []
        if let path = settings.tokensFile {
            switch AccessTokens.load(path: path) {
            case .success(let loaded): grants += loaded
            case .failure(let failure): throw StartupError.invalidTokens(path: path, failure.problems)
            }
            logger.info("tokens", metadata: ["path": "\(path)", "tokens": "\(grants.count)"])
        }
        let tokens = grants.isEmpty ? nil : AccessTokens(grants: grants)
        // NATS first: executors served over it (session runtimes, worker pools) are made with the connection.
        var sessions: SessionBridge?
        if let nats = settings.nats { sessions = try await SessionBridge.connect(nats, prefix: settings.natsPrefix, logger: logger) }
        let setup: DeploymentSetup
        switch DeploymentSetup.prepare(configPath: settings.configPath, externals: sessions.map(\.externalExecutors)) {
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
        let hadState = StateFile(root: settings.root).exists
        configuration.retention = Retention(runs: setup.deployment.historyRuns, days: setup.deployment.historyDays)
        let namespaces = try await Namespaces.open(Namespaces.Factory(setup: setup, configuration: configuration, root: settings.root,
                                                                      metrics: metrics, logger: logger,
                                                                      capacity: CapacityPool(slots: configuration.parallel),
                                                                      sessions: sessions, redis: settings.redisURL,
                                                                      leaseTTL: settings.leaseTTL, keepsHistory: settings.keepsHistory))
        sessions?.attach(namespaces)
        let service = namespaces.defaultService

        var syncPending = false
        if let remote = settings.syncFrom, !hadState {
            let outcome = await SyncFrom.syncOnce(remote: remote, token: settings.syncToken, service: service, logger: logger,
                                                  timeout: .seconds(2))
            syncPending = outcome == .failed
        }
        self.namespaces = namespaces
        self.syncPending = syncPending
        environment = ServerEnvironment(namespaces: namespaces, tokens: tokens, settings: settings, metrics: metrics, shutdown: ShutdownTrigger(logger: logger),
                                        openAPI: OpenAPIDocument.load(), sessions: sessions, logger: logger)
    }

    /// Every route, under the prefix.
    static func routes(_ environment: ServerEnvironment) -> RouteTable {
        var table = RouteTable(prefix: environment.settings.prefix)
        PlanRoutes.register(in: &table, environment)
        InspectionRoutes.register(in: &table, environment)
        StatusRoutes.register(in: &table, environment)
        LogRoutes.register(in: &table, environment)
        SystemRoutes.register(in: &table, environment)
        DashboardRoutes.register(in: &table, environment)
        environment.metrics.requests.setPatterns(table.patterns)
        return table
    }

    @MiddlewareFixedTypeBuilder<Request, Response, PlanterRequestContext>
    static func middleware(_ environment: ServerEnvironment) -> some MiddlewareProtocol<Request, Response, PlanterRequestContext> {
        MetricsMiddleware(counters: environment.metrics.requests)
        ErrorMiddleware(requestIDs: environment.requestIDs)
        AuthMiddleware(tokens: environment.tokens)
    }

    /// `GET /health` answered on the event loop (see LivenessHandler), counted as the route would be.
    static func livenessHandler(table: RouteTable, environment: ServerEnvironment) -> @Sendable () -> LivenessHandler {
        let pattern = table.resolve(method: .get, path: "/health").patternIndex
        let counters = environment.metrics.requests
        let body = SystemRoutes.healthBody(startedAt: environment.startedAt)
        let path = environment.settings.prefix + "/health"
        return { LivenessHandler(path: path, body: body, answered: { counters.record(pattern: pattern, method: .get, status: 200) }) }
    }

    func application() -> some ApplicationProtocol {
        let settings = self.settings
        let logger = self.logger
        let table = Self.routes(environment)
        let responder = Dispatcher(table: table, chain: Self.middleware(environment))
        let liveness = Self.livenessHandler(table: table, environment: environment)
        return Application(
            responder: responder,
            server: .http1(configuration: .init(additionalChannelHandlers: [liveness()])),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                logger.notice("Planter \(PlanterVersion.current) listening on http://\(settings.host):\(port)\(settings.prefix)",
                              metadata: ["host": "\(settings.host)", "port": "\(port)"])
                if settings.token == nil && settings.tokensFile == nil && settings.listensBeyondLoopback {
                    logger.warning("no PLANTER_TOKEN nor PLANTER_TOKENS_FILE: the API is open to anyone who can reach \(settings.host):\(port)")
                }
            },
            logger: logger
        )
    }

    /// Serves until SIGTERM, SIGINT or POST /STOP; then saves the state and returns.
    public func run() async throws {
        // Graceful shutdown goes in reverse order: the namespaces' runs end (and are mirrored)
        // before the NATS connection closes, and the HTTP server answers until the end.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: application())]
        if let sessions = environment.sessions { services.append(.init(service: sessions)) }
        services += [
            .init(service: ServiceShutdown(namespaces: namespaces, notice: environment.shutdownNotice, logger: logger)),
            .init(service: ReloadOnHangup(namespaces: namespaces, logger: logger)),
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
        let namespaces = self.namespaces
        let logger = self.logger
        let pruner = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
                for (name, service) in await namespaces.all {
                    if let line = await service.pruneHistory() { logger.info("\(line)", metadata: ["namespace": "\(name)"]) }
                }
            }
        }
        defer { pruner.cancel() }
        try await group.run()
        logger.notice("Planter stopped")
    }
}
