import Hummingbird
import PlanterHost
import PlanterJSON

/// GET /state, GET /phases/:id, POST /phases/:id/run, GET /runs, GET /runs/:id,
/// POST /runs/:id/cancel, GET /plans, GET /plans/:id.
enum InspectionRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        let service = environment.service

        table.add(.get, "/state") { _, _ in
            Reply.json(await service.stateAnswer(), capacity: 4096)
        }

        table.add(.get, "/phases/:id") { _, context in
            Reply.json(try await service.phaseAnswer(context.parameter), capacity: 4096)
        }

        table.add(.post, "/phases/:id/run") { request, context in
            let query = Query(request)
            let withDependents = try query.bool("withDependents")
            let wait = try query.bool("wait")
            return Reply.json(try await service.rerun(context.parameter, withDependents: withDependents, wait: wait), capacity: 2048)
        }

        table.add(.get, "/runs") { request, _ in
            let query = Query(request)
            let page = try query.page(defaultLimit: 50, maximum: 1000)
            return Reply.json(try await service.runsAnswer(page, planId: query.string("planId")), capacity: 4096)
        }

        table.add(.get, "/plans") { request, _ in
            Reply.json(try await service.plansAnswer(try Query(request).page(defaultLimit: 50, maximum: 1000)), capacity: 4096)
        }

        table.add(.get, "/plans/:id") { _, context in
            Reply.json(try await service.planAnswer(context.parameter), capacity: 4096)
        }

        table.add(.get, "/runs/:id") { _, context in
            Reply.json(try await service.runAnswer(context.parameter), capacity: 4096)
        }

        table.add(.post, "/runs/:id/cancel") { _, context in
            Reply.json(try await service.cancel(runOrQueuedPlan: context.parameter), status: .accepted)
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
