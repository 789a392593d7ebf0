import Foundation
import Hummingbird
import HTTPTypes
import PlanterHost
import PlanterJSON

/// GET /graph.svg[?planId=<id>][&groupBy=wave|label:<key>]: a plan revision laid out by
/// Graphviz. Without `planId`, the applied plan with each phase's live status; with it, that
/// revision (the staged one, the applied one, or one applied earlier, from the history store),
/// whose phases are drawn with the live statuses only if it is the applied one (`pending`
/// otherwise: the dashboard colours a run's graph from that run's record).
enum GraphRoute {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment, layouts: GraphLayouts) {
        let logger = environment.logger
        table.add(.get, "/graph.svg") { request, context in
            let query = Query(request)
            let grouping = try Grouping.parse(query.text("groupBy"))
            let asked = try query.planId("planId")
            let service = try await environment.service(context)
            let status = await service.statusAnswer()
            let namespace = context.namespace
            let applied = status["planId"]?.stringValue
            guard let planId = asked ?? applied else { throw APIError.notFound("the namespace \"\(namespace)\" has no applied plan") }
            let notFound = asked == nil ? APIError.notFound("the namespace \"\(namespace)\" has no applied plan")
                : APIError.notFound("no plan revision \"\(planId)\" in the namespace \"\(namespace)\" (GET /plans lists them)")
            let result: Result<GraphSVG, GraphLayouts.Failure>?
            if planId == applied {
                result = await layouts.svg(namespace: namespace, planId: planId, grouping: grouping) {
                    let state = await service.stateAnswer()
                    // Applied over since the status was read: the revision is in the history now.
                    if state["planId"]?.stringValue == planId { return state }
                    return try? await service.revisionDocument(planId)
                }
            } else if let svg = await layouts.cached(namespace: namespace, planId: planId, grouping: grouping) {
                result = .success(svg)
            } else {
                // Read before the layout, so that an unknown id is a 404 and an unreadable history a 503.
                let document: JSON
                do { document = try await service.revisionDocument(planId) } catch let error as ServiceError {
                    if case .notFound = error { throw notFound }
                    throw APIError(error)
                }
                result = await layouts.svg(namespace: namespace, planId: planId, grouping: grouping) { document }
            }
            switch result {
            case nil:
                throw notFound
            case .failure(let failure)?:
                logger.error("graph layout failed", metadata: ["namespace": "\(namespace)", "planId": "\(planId)", "reason": "\(failure)"])
                throw APIError(status: .serviceUnavailable, code: "layoutFailed", message: failure.description)
            case .success(let svg)?:
                var statuses: [String: String] = [:]
                if planId == applied {
                    for member in status["phases"]?.objectValue ?? JSONObject() { statuses[member.key] = member.value.stringValue }
                }
                var headers: HTTPFields = [.contentType: "image/svg+xml", .cacheControl: "no-store",
                                           HTTPField.Name("X-Planter-Plan")!: planId,
                                           HTTPField.Name("X-Planter-Graph")!: svg.collapsed ? "collapsed" : "phases"]
                if svg.collapsed { headers[HTTPField.Name("X-Planter-Group-By")!] = grouping.description }
                return Reply.bytes(svg.render(statuses), headers: headers)
            }
        }
    }
}
