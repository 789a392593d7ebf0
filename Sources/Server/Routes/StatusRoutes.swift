import Hummingbird
import PlanterHost

/// GET /status: the live execution status (the protocol document lists it): the run in
/// progress, each phase's status and the count by status. The live part of GET /state,
/// without the plan itself, so pollers read little.
enum StatusRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        let service = environment.service
        table.add(.get, "/status") { _, _ in
            Reply.json(await service.statusAnswer(), capacity: 1024)
        }
    }
}
