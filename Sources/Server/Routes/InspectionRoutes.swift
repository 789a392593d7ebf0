import Hummingbird
import PlanterHost
import PlanterJSON

/// GET /state, GET /phases/:id, POST /phases/:id/run, GET /runs (a long poll with waitAfter: RunWait), GET /runs/:id,
/// POST /runs/:id/cancel|pause|resume, GET /plans, GET /plans/:id.
enum InspectionRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        table.add(.get, "/state") { _, context in
            try Reply.json(await environment.service(context).stateAnswer(), capacity: 4096)
        }

        table.add(.get, "/phases/:id") { _, context in
            Reply.json(try await environment.service(context).phaseAnswer(context.parameter), capacity: 4096)
        }

        table.add(.post, "/phases/:id/run") { request, context in
            let service = try await environment.service(context)
            let query = Query(request)
            let withDependents = try query.bool("withDependents")
            let wait = try query.bool("wait")
            return Reply.json(try await service.rerun(context.parameter, withDependents: withDependents, wait: wait, triggeredBy: context.caller),
                              capacity: 2048)
        }

        table.add(.get, "/runs") { request, context in
            let service = try await environment.service(context)
            let query = Query(request)
            let page = try query.page(defaultLimit: 50, maximum: 1000)
            let planId = query.string("planId")
            if let wait = try RunWait.parse(query) {
                try await RunWait.wait(wait, planId: planId, service: service, notice: environment.shutdownNotice)
            }
            return Reply.json(try await service.runsAnswer(page, planId: planId), capacity: 4096)
        }

        table.add(.get, "/plans") { request, context in
            let service = try await environment.service(context)
            return Reply.json(try await service.plansAnswer(try Query(request).page(defaultLimit: 50, maximum: 1000)), capacity: 4096)
        }

        table.add(.get, "/plans/:id") { _, context in
            Reply.json(try await environment.service(context).planAnswer(context.parameter), capacity: 4096)
        }

        table.add(.get, "/runs/:id") { _, context in
            Reply.json(try await environment.service(context).runAnswer(context.parameter), capacity: 4096)
        }

        table.add(.post, "/runs/:id/cancel") { _, context in
            Reply.json(try await environment.service(context).cancel(runOrQueuedPlan: context.parameter), status: .accepted)
        }

        // The same as a session's `.control` pause/resume: no phase starts while paused.
        for (path, pause) in [("/runs/:id/pause", true), ("/runs/:id/resume", false)] {
            table.add(.post, path) { _, context in
                Reply.json(try await environment.service(context).setPaused(pause, runId: context.parameter))
            }
        }
    }
}

extension PlanterRequestContext {
    /// The `:id` of the matched route.
    var parameter: String {
        if case .found(_, let parameter?) = route { return parameter }
        return ""
    }
}
