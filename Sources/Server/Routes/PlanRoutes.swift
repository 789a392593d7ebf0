import Hummingbird
import PlanterDeployment
import PlanterHost
import PlanterJSON

/// POST /plan, GET /diff (staged, or `?from=&to=` any two revisions), POST /diff, POST /apply.
enum PlanRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        let limit = environment.settings.maxBodyBytes
        let metrics = environment.metrics
        let namespaces = environment.namespaces

        table.add(.post, "/plan") { request, context in
            let query = Query(request)
            var options = SubmitOptions(dryRun: try query.bool("dryRun"), wait: try query.bool("wait"), stage: try query.bool("stage"),
                                        force: try query.bool("force"), queue: try query.bool("queue"), strict: try query.bool("strict"),
                                        triggeredBy: context.caller)
            // The session the run is mirrored on (NATS); without NATS there are no sessions to name.
            if let session = query.string("session") {
                if let problem = SessionSubjects.sessionProblem(Substring(session)) { throw APIError.badParameter("session", problem) }
                if environment.sessions != nil { options.session = session }
            }
            let document = try await ManifestBody.read(request, limit: limit)
            // A plan creates its namespace, once it is known to be valid (a refused plan creates nothing); a dry run does not.
            let service: PlanterService
            if options.dryRun || context.namespace == NamespaceName.default {
                service = try await environment.service(context)
            } else {
                if await !namespaces.contains(context.namespace) {
                    try namespaces.check(document, strict: options.strict, namespace: context.namespace)
                }
                service = try await namespaces.service(context.namespace, create: true)
            }
            let answer = try await service.submit(document, options: options)
            let mode = options.dryRun ? "dryRun" : options.stage ? "stage" : answer["queued"] != nil ? "queue" : "run"
            metrics.planSubmitted(namespace: context.namespace, mode: mode)
            return Reply.json(answer, capacity: 2048)
        }

        // Nothing staged is an empty diff with `staged: null`, not a 404. With `from` and/or `to`:
        // any two revisions (staged, applied, or applied earlier); the one left out is the applied plan.
        table.add(.get, "/diff") { request, context in
            let query = Query(request)
            let from = try query.planId("from"), to = try query.planId("to")
            let service = try await environment.service(context)
            guard from != nil || to != nil else { return Reply.json(await service.stagedDiffAnswer(), capacity: 2048) }
            let old: String, new: String
            if let from, let to {
                (old, new) = (from, to)
            } else {
                guard let applied = await service.statusAnswer()["planId"]?.stringValue else {
                    throw APIError.notFound("the namespace \"\(context.namespace)\" has no applied plan to diff against: name both from and to")
                }
                (old, new) = (from ?? applied, to ?? applied)
            }
            return Reply.json(try await service.revisionDiffAnswer(from: old, to: new), capacity: 4096)
        }

        // Compares and changes nothing: a read.
        table.add(.post, "/diff", role: .read) { request, context in
            let service = try await environment.service(context)
            let document = try await ManifestBody.read(request, limit: limit)
            return Reply.json(try await service.diff(document, strict: try Query(request).bool("strict")), capacity: 2048)
        }

        table.add(.post, "/apply") { request, context in
            let service = try await environment.service(context)
            let wait = try Query(request).bool("wait")
            return Reply.json(try await service.apply(wait: wait, triggeredBy: context.caller), capacity: 2048)
        }
    }
}
