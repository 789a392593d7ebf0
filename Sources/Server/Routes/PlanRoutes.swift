import Hummingbird
import PlanterHost
import PlanterJSON

/// POST /plan, GET|POST /diff, POST /apply.
enum PlanRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        let service = environment.service
        let limit = environment.settings.maxBodyBytes
        let metrics = environment.metrics

        table.add(.post, "/plan") { request, _ in
            let query = Query(request)
            let options = SubmitOptions(dryRun: try query.bool("dryRun"), wait: try query.bool("wait"), stage: try query.bool("stage"),
                                        force: try query.bool("force"), queue: try query.bool("queue"), strict: try query.bool("strict"))
            let document = try await ManifestBody.read(request, limit: limit)
            let answer = try await service.submit(document, options: options)
            let mode = options.dryRun ? "dryRun" : options.stage ? "stage" : answer["queued"] != nil ? "queue" : "run"
            metrics.planSubmitted(mode: mode)
            return Reply.json(answer, capacity: 2048)
        }

        // Nothing staged is an empty diff with `staged: null`, not a 404.
        table.add(.get, "/diff") { _, _ in
            Reply.json(await service.stagedDiffAnswer(), capacity: 2048)
        }

        table.add(.post, "/diff") { request, _ in
            let document = try await ManifestBody.read(request, limit: limit)
            return Reply.json(try await service.diff(document, strict: try Query(request).bool("strict")), capacity: 2048)
        }

        table.add(.post, "/apply") { request, _ in
            let wait = try Query(request).bool("wait")
            return Reply.json(try await service.apply(wait: wait), capacity: 2048)
        }
    }
}
