import Foundation
import Logging
import PlanterDeployment
import PlanterHost
import PlanterJSON
import PlanterRedis

/// Every namespace's PlanterService, by name: one applied and staged plan, run history, state
/// file and one-run-at-a-time rule each, sharing the deployment (executors, plugins). `default`
/// keeps the files of a Planter without namespaces (`$PLANTER_ROOT/state/`); another namespace
/// lives in `$PLANTER_ROOT/namespaces/<name>/state/`. Those found there are opened at start-up
/// (so an interrupted run's leftovers are killed before the server listens); a new one is made
/// by its first write.
actor Namespaces {
    /// How a namespace's service is made: the shared deployment and configuration, the root.
    struct Factory: Sendable {
        let setup: DeploymentSetup
        let configuration: ServiceConfiguration
        let root: String
        let metrics: ServerMetrics
        let logger: Logger
        /// The server's `parallel` phases at once, shared round-robin by the namespaces' runs.
        let capacity: CapacityPool
        /// The NATS session interface: every run is mirrored on a session (nil: no NATS).
        let sessions: SessionBridge?
        /// REDIS_URL: each namespace's history is also (and first of all) in Redis.
        var redis: RedisURL? = nil
        /// This process's name in Redis (its writes' dedup key), unique per start.
        var writerId = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        /// PLANTER_LEASE_TTL: Planters on one Redis take turns: one holds each namespace's lease and runs its plans.
        var leaseTTL: Duration? = nil
        /// PLANTER_HISTORY=off: no history store (runs and events in memory only; the benchmarks' baseline).
        var keepsHistory = true

        /// `$PLANTER_ROOT/namespaces`, the folder of every namespace but `default`.
        var folder: String { (root as NSString).appendingPathComponent("namespaces") }

        func root(of name: String) -> String {
            name == NamespaceName.default ? root : (folder as NSString).appendingPathComponent(name)
        }

        /// Opens the namespace's history and state; warnings go to the log.
        func open(_ name: String) async throws(PlanterServer.StartupError) -> PlanterService {
            let root = root(of: name)
            var configuration = configuration
            // The executors are shared: Namespaces closes them once every namespace has stopped.
            configuration.closesExecutors = false
            // The deployment's `namespaces: {<name>: {parallel: N}}` caps the namespace's phases at once.
            if let limit = setup.deployment.namespaceParallel[name] { configuration.parallel = min(configuration.parallel, limit) }
            configuration.capacity = (capacity, name)
            configuration.namespace = name
            configuration.allowedExecutors = allowedExecutors(name)
            var sinks: [any EventSink] = [RunObserver(metrics: metrics, logger: logger, namespace: name)]
            if let sessions {
                configuration.runStarting = sessions.runStarting(namespace: name)
                sinks.append(sessions.mirror(namespace: name))
                configuration.recoverRemoteAttempts = sessions.recoverRemoteAttempts(namespace: name)
            }
            let stateFile = StateFile(root: root)
            let eventLog = EventLog()
            var history: History?
            let replica = keepsHistory ? await openRedis(name) : nil
            var takeover: LeaseTakeover?
            if let redis, let leaseTTL, let replica {
                let joined = LeaseTakeover(replica: replica, namespace: name, logger: logger)
                configuration.lease = RedisLease(url: redis, namespace: name, owner: writerId, ttl: leaseTTL) { joined.changed($0) }
                takeover = joined
            }
            if keepsHistory {
                switch await History.open(path: History.path(root: root), eventLog: eventLog, replica: replica) {
                case .success(let (opened, warning)):
                    history = opened
                    if let warning { logger.warning("\(warning)", metadata: ["namespace": "\(name)"]) }
                case .failure(let error):
                    throw .history(error.description)
                }
            }
            let service = PlanterService(setup: setup, configuration: configuration, stateFile: stateFile, eventLog: eventLog,
                                         history: history, sinks: sinks)
            for warning in await service.start() { logger.warning("\(warning)", metadata: ["namespace": "\(name)"]) }
            takeover?.attach(service)
            if let pruned = await service.pruneHistory() { logger.info("\(pruned)", metadata: ["namespace": "\(name)"]) }
            logger.info("namespace opened", metadata: ["namespace": "\(name)", "state": "\(stateFile.path)", "history": "\(history.map { $0.replica?.location ?? $0.store.path } ?? "off")"])
            return service
        }

        /// The namespace's history in Redis, when REDIS_URL is set. Redis down is no reason not to
        /// start: the history then runs on the embedded store and the writes wait for Redis.
        func openRedis(_ name: String) async -> RedisHistory? {
            guard let redis else { return nil }
            let history = RedisHistory(url: redis, namespace: name, writerId: writerId)
            if let problem = await history.ping() {
                logger.warning("Redis is unreachable: the history runs on the embedded store until it is back",
                               metadata: ["namespace": "\(name)", "redis": "\(redis)", "reason": "\(problem)"])
            } else if name == NamespaceName.default, let warning = await history.evictionWarning() {
                logger.warning("\(warning)")
            }
            return history
        }

        /// The executors the namespace may use (the deployment's `namespaces.<name>.executors`); nil: any.
        func allowedExecutors(_ name: String) -> Set<String>? { setup.deployment.namespaceExecutors[name].map(Set.init) }

        /// The names of the namespaces found under the root's `namespaces` folder.
        func existing() -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { NamespaceName.problem(Substring($0)) == nil && $0 != NamespaceName.default }.sorted()
        }
    }

    let factory: Factory
    /// The `default` namespace, always open: the root routes, readiness and sync-from use it.
    nonisolated let defaultService: PlanterService
    private var services: [String: PlanterService]
    /// Namespaces being opened by a first write, so two concurrent first writes open one.
    private var opening: [String: Task<PlanterService, any Error>] = [:]
    /// Shutdown has begun: no namespace is created any more.
    private var closed = false

    /// Opens `default` and every namespace already on disk.
    static func open(_ factory: Factory) async throws(PlanterServer.StartupError) -> Namespaces {
        var services = [NamespaceName.default: try await factory.open(NamespaceName.default)]
        var names = factory.existing()
        if let redis = factory.redis, factory.leaseTTL != nil {
            // Those other Planters made: this one watches their leases, to take over.
            let shared = await RedisHistory.namespaces(url: redis).filter { NamespaceName.problem(Substring($0)) == nil }
            names = Array(Set(names).union(shared).subtracting([NamespaceName.default])).sorted()
        }
        for name in names { services[name] = try await factory.open(name) }
        return Namespaces(factory: factory, services: services)
    }

    private init(factory: Factory, services: [String: PlanterService]) {
        self.factory = factory
        self.services = services
        defaultService = services[NamespaceName.default]!
    }

    func contains(_ name: String) -> Bool { services[name] != nil }

    /// Validates a plan for the namespace as its service would, before the namespace exists.
    nonisolated func check(_ document: JSON, strict: Bool, namespace: String) throws(ServiceError) {
        try defaultService.check(document, strict: strict, executors: factory.allowedExecutors(namespace))
    }
    var all: [(name: String, service: PlanterService)] { services.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }

    /// The namespace's service; an unknown namespace is a 404 unless `create` (a write) asks for it.
    func service(_ name: String, create: Bool) async throws(APIError) -> PlanterService {
        if let service = services[name] { return service }
        guard create else {
            throw APIError.notFound("no namespace \"\(name)\": a namespace is created by its first POST /namespaces/\(name)/plan; "
                + "GET /namespaces lists them")
        }
        guard !closed else { throw APIError.unavailable("Planter is shutting down and creates no namespace") }
        let task = opening[name] ?? Task { [factory] in try await factory.open(name) }
        opening[name] = task
        do {
            let service = try await task.value
            services[name] = service
            opening[name] = nil
            return service
        } catch {
            opening[name] = nil
            factory.logger.error("namespace \(name) could not be opened", metadata: ["reason": "\(error)"])
            throw APIError.internal("namespace \"\(name)\" could not be opened; the server log says why")
        }
    }

    /// Shuts every namespace down side by side (each lets its run finish within the grace
    /// period, then saves), then closes the shared executors. Returns each failed save.
    func shutdown() async -> [(name: String, service: PlanterService, error: any Error)] {
        closed = true
        // One opened by a first write still under way is shut down too.
        for (name, task) in opening { if let service = try? await task.value { services[name] = service } }
        let all = self.all
        let failures = await withTaskGroup(of: (String, PlanterService, (any Error)?).self) { group in
            for (name, service) in all { group.addTask { (name, service, await service.shutdown()) } }
            var failures: [(name: String, service: PlanterService, error: any Error)] = []
            for await (name, service, error) in group {
                if let error { failures.append((name, service, error)) }
            }
            return failures
        }
        // Leases given up: a standby takes over without waiting for the TTL.
        for (_, service) in all { await (service.configuration.lease as? RedisLease)?.release() }
        await PlanterService.close(factory.setup.registry)
        return failures
    }
}
