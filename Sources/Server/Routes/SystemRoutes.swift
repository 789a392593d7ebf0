import Hummingbird
import NIOCore
import PlanterCore
import PlanterHost
import PlanterJSON
import PlanterWorkers

/// GET /health, GET /ready, GET /metrics, POST /STOP, POST /RELOAD, GET /openapi.yaml, GET /namespaces.
enum SystemRoutes {
    /// `{"status":"ok","version":…,"uptimeSeconds":…}`, made for each request.
    static func healthBody(startedAt: ContinuousClock.Instant) -> @Sendable () -> [UInt8] {
        let head = Array("{\"status\":\"ok\",\"version\":\"\(PlanterVersion.current)\",\"uptimeSeconds\":".utf8)
        return {
            var bytes = head
            bytes.reserveCapacity(head.count + 24)
            bytes.append(contentsOf: String((ContinuousClock.now - startedAt).components.seconds).utf8)
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }

    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {

        // Liveness: no actor hop, no JSON tree; a handful of bytes. Usually answered before the
        // router, on the event loop (LivenessHandler); this route serves the rest (a query, Connection:
        // close, a request pipelined behind one still waiting for its answer).
        let health = healthBody(startedAt: environment.startedAt)
        table.add(.get, "/health", isPublic: true, scope: .server) { _, _ in
            Response(status: .ok, headers: Reply.jsonHeaders, body: ResponseBody(byteBuffer: ByteBuffer(bytes: health())))
        }

        table.add(.get, "/ready", isPublic: true, scope: .server) { _, _ in
            let (ready, answer) = await readiness(environment)
            return Reply.json(answer, status: ready ? .ok : .serviceUnavailable)
        }

        let metrics = environment.metrics
        table.add(.get, "/metrics", scope: .server) { _, _ in
            Reply.bytes(metrics.render(), headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"])
        }

        let shutdown = environment.shutdown
        let logger = environment.logger
        // Stops the server, every namespace with it: an admin token of every namespace.
        table.add(.post, "/STOP", scope: .server, role: .admin) { _, _ in
            logger.notice("POST /STOP: saving state and shutting down")
            // `status` is what the original's clients read; `stopping` is kept for ours.
            let body = ByteBuffer(bytes: Array(#"{"status":"stopping","stopping":true}"#.utf8))
            // Answer first, then shut down as SIGTERM does.
            return Response(status: .accepted, headers: Reply.jsonHeaders, body: ResponseBody(contentLength: body.readableBytes) { writer in
                try await writer.write(body)
                try await writer.finish(nil)
                Task { await shutdown.trigger(reason: "POST /STOP") }
            })
        }

        table.add(.post, "/RELOAD") { _, context in
            let service = try await environment.service(context)
            let answer: JSON
            do {
                answer = try await service.reload()
            } catch let error as ServiceError {
                guard case .notFound = error else { throw error }
                // No state file is not an error to the original's clients: nothing to reload,
                // and the state in memory is unchanged.
                let status = await service.statusAnswer()
                return Reply.json(["status": "no_state", "reloaded": false, "planId": status["planId"] ?? .null, "phases": status["total"] ?? 0])
            }
            logger.notice("POST /RELOAD: state reloaded from the state file", metadata: ["planId": "\(answer["planId"]?.stringValue ?? "none")"])
            var object = answer.objectValue ?? JSONObject()
            object["status"] = "reloaded"
            return Reply.json(.object(object))
        }

        let document = environment.openAPI
        table.add(.get, "/openapi.yaml", scope: .server) { _, _ in
            guard let bytes = document.bytes else { throw APIError.notFound(document.problem ?? "the OpenAPI document is not installed") }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: ResponseBody(byteBuffer: bytes))
        }

        // The `planter worker`s heard from in the last 10 s (their presence every 2 s), for every pool.
        table.add(.get, "/workers", scope: .server) { _, _ in
            let workers = environment.sessions?.workers ?? []
            return Reply.json(["workers": .array(workers.map { worker -> JSON in
                var object: JSONObject = ["id": .string(worker.id), "namespace": .string(worker.namespace), "pool": .string(worker.pool),
                                          "executors": .array(worker.executors.map(JSON.string)),
                                          "capacity": .int(Int64(worker.capacity)), "inFlight": .int(Int64(worker.inFlight)),
                                          "protocol": .int(Int64(worker.version)), "lastHeartbeat": .string(worker.lastSeen.iso8601)]
                // Another work protocol version: listed, but it gets no work (the log says so too).
                if let warning = worker.warning { object["warning"] = .string(warning) }
                return .object(object)
            }), "nats": .bool(environment.sessions != nil), "protocol": .int(Int64(WorkProtocol.version))])
        }

        // The namespaces the caller's token may use, each with its applied plan and run in progress.
        let namespaces = environment.namespaces
        table.add(.get, "/namespaces", scope: .server) { _, context in
            var listed: [JSON] = []
            for (name, service) in await namespaces.all where context.grant?.covers(name) ?? true {
                let status = await service.statusAnswer()
                listed.append(["name": .string(name), "planId": status["planId"] ?? .null, "status": status["status"] ?? .null,
                               "activeRunId": status["activeRunId"] ?? .null])
            }
            return Reply.json(["namespaces": .array(listed)])
        }
    }

    /// Ready when the state folder takes writes and the service accepts plans; plugins that
    /// failed to load are listed but do not make the server unready.
    static func readiness(_ environment: ServerEnvironment) async -> (Bool, JSON) {
        let service = environment.namespaces.defaultService
        var checks: [JSON] = []
        var ready = true
        func check(_ name: String, _ ok: Bool, _ message: String, fatal: Bool = true, extra: JSONObject = JSONObject()) {
            var object: JSONObject = ["name": .string(name), "ok": .bool(ok), "message": .string(message)]
            if !fatal { object["fatal"] = false }
            for member in extra { object[member.key] = member.value }
            checks.append(.object(object))
            if fatal && !ok { ready = false }
        }
        let stateFile = await service.stateFile
        if let problem = stateFile.checkWritable() {
            check("stateFolder", false, problem)
        } else if let problem = await service.lastSaveProblem {
            check("stateFolder", false, "the last save of \(stateFile.path) failed: \(problem)")
        } else {
            check("stateFolder", true, "the folder of \(stateFile.path) is writable")
        }
        if let history = service.history {
            // A failed commit means what followers were shown may not be in the database.
            if let problem = history.store.lastError {
                check("history", false, "the history store failed a write: \(problem)")
            } else {
                check("history", true, "the history store takes writes")
            }
            if let replica = history.replica {
                // Not fatal: a lone Planter keeps running on the embedded store while Redis is away.
                if let problem = replica.problem {
                    check("redis", false, "Redis (\(replica.location)) is down or behind: \(problem); the history runs on the "
                          + "embedded store and the writes wait for Redis", fatal: false)
                } else {
                    check("redis", true, "Redis (\(replica.location)) takes the history", fatal: false)
                }
            }
        }
        if let lease = await service.configuration.lease {
            // Not fatal: a standby serves reads and is ready to take over.
            check("lease", lease.mayStartPhases, lease.mayStartPhases ? "this Planter holds the namespace's lease and runs its plans"
                  : "standby: another Planter holds the namespace's lease (or it is not renewed): no phase starts here", fatal: false)
        }
        if let sessions = environment.sessions {
            // Plans over HTTP still run while NATS is away; only the sessions wait for it.
            let (ok, message) = sessions.readiness
            check("nats", ok, message, fatal: false)
        }
        let catalog = await service.setup.catalog
        let loaded = catalog.plugins.map { JSON.string($0.name) }
        let failures = catalog.failures.map { JSON.object(["path": .string($0.path), "reason": .string($0.reason)]) }
        check("plugins", catalog.failures.isEmpty,
              catalog.failures.isEmpty ? "\(loaded.count) plugin(s) loaded" : "\(loaded.count) plugin(s) loaded, \(failures.count) failed",
              fatal: false, extra: ["loaded": .array(loaded), "failures": .array(failures)])
        let accepting = await service.isAccepting
        check("accepting", accepting, accepting ? "accepting plans" : "shutting down")
        let answer: JSON = ["status": .string(ready ? "ready" : "unready"), "checks": .array(checks)]
        return (ready, answer)
    }
}
