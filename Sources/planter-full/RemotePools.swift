import Foundation
import PlanterCore
import PlanterDeployment
import PlanterJSON
import PlanterMessaging
import PlanterWorkers

/// `planter plugins`: the `remote: {pool: NAME}` executors of the deployment and the
/// `planter worker`s that serve them now, heard from their presence messages (every worker
/// announces itself every 2 s, so listening a little longer than that hears every live one).
struct RemotePools {
    /// Executor name → pool, in the deployment's order.
    let pools: [(executor: String, pool: String)]
    /// Nil: NATS is not configured; else the workers heard (every namespace under the prefix).
    let workers: [RemoteDispatcher.Presence]?
    /// Why the workers could not be listed (NATS configured but unreachable, a bad NATS_URL).
    let problem: String?

    static func listen(_ deployment: Deployment, environment: [String: String], listenMs: Int64 = 2500) -> RemotePools? {
        let pools = deployment.executors.compactMap { definition -> (String, String)? in
            guard case .remotePool(let pool, _, _)? = definition.external else { return nil }
            return (definition.name, pool)
        }
        guard !pools.isEmpty else { return nil }
        guard let url = environment["NATS_URL"], !url.isEmpty else { return RemotePools(pools: pools, workers: nil, problem: nil) }
        let servers: [String]
        switch NATSSettings.parseServers(url) {
        case .success(let parsed): servers = parsed
        case .failure(let error): return RemotePools(pools: pools, workers: [], problem: "NATS_URL: \(error.text)")
        }
        let prefix = environment["PLANTER_NATS_PREFIX"] ?? ""
        if let problem = WorkSubjects.prefixProblem(prefix) { return RemotePools(pools: pools, workers: [], problem: problem) }
        var settings = NATSSettings(servers: servers, credentialsFile: environment["NATS_CREDS"], name: "planter plugins")
        settings.connectTimeoutMs = 1000
        do {
            let connection = try NATSConnection.connect(settings)
            defer { connection.close() }
            // The dispatcher's presence listener, without a queue or a consumer (it makes those only to dispatch).
            let dispatcher = try RemoteDispatcher(connection: connection, prefix: prefix) { _ in }
            defer { dispatcher.stop() }
            usleep(UInt32(listenMs * 1000))
            guard connection.isConnected else {
                return RemotePools(pools: pools, workers: [], problem: "not connected to NATS at \(servers.joined(separator: ","))")
            }
            return RemotePools(pools: pools, workers: dispatcher.workers, problem: nil)
        } catch {
            return RemotePools(pools: pools, workers: [], problem: "cannot connect to NATS: \(error)")
        }
    }

    var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("nats", .bool(workers != nil))
        if let problem { object.appendUnchecked("problem", .string(problem)) }
        object.appendUnchecked("pools", .array(pools.map { entry -> JSON in
            var pool: JSONObject = ["executor": .string(entry.executor), "pool": .string(entry.pool)]
            if let workers {
                pool["workers"] = .array(workers.filter { $0.pool == entry.pool }.map { worker -> JSON in
                    var listed: JSONObject = ["id": .string(worker.id), "namespace": .string(worker.namespace),
                                              "executors": .array(worker.executors.map(JSON.string)),
                                              "capacity": .int(Int64(worker.capacity)), "inFlight": .int(Int64(worker.inFlight)),
                                              "protocol": .int(Int64(worker.version)), "lastHeartbeat": .string(worker.lastSeen.iso8601)]
                    if let warning = worker.warning { listed["warning"] = .string(warning) }
                    return .object(listed)
                })
            }
            return .object(pool)
        }))
        return .object(object)
    }

    var lines: [String] {
        guard let workers else {
            return ["Remote pools: NATS is not configured (set NATS_URL to list the workers of "
                + pools.map { "pool \($0.pool)" }.joined(separator: ", ") + ")"]
        }
        var lines = ["Remote pools (the workers heard on NATS within 2.5 s):"]
        if let problem { lines.append("  cannot list workers: \(problem)") }
        for entry in pools {
            let serving = workers.filter { $0.pool == entry.pool }
            lines.append("  pool \(entry.pool) (executor \(entry.executor)): " + (serving.isEmpty ? "no worker" : "\(serving.count) worker(s)"))
            for worker in serving {
                lines.append("    \(worker.id)  namespace \(worker.namespace)  capacity \(worker.capacity)  in flight \(worker.inFlight)  "
                    + "executors \(worker.executors.joined(separator: ","))  protocol \(worker.version)")
                if let warning = worker.warning { lines.append("      warning: \(warning)") }
            }
        }
        return lines
    }
}
