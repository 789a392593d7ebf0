import Hummingbird
import PlanterHost

/// GET /status: the live execution status (the protocol document lists it): the run in
/// progress, each phase's status and the count by status. The live part of GET /state,
/// without the plan itself, so pollers read little.
enum StatusRoutes {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        table.add(.get, "/status") { _, context in
            try Reply.json(await environment.service(context).statusAnswer(), capacity: 1024)
        }
    }
}
