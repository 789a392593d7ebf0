import Foundation
import Hummingbird
import HTTPTypes
import PlanterHost
import PlanterJSON

/// GET /graph.svg[?planId=<id>][&runId=<id>][&groupBy=wave|label:<key>]: a plan revision laid out by
/// Graphviz. Without `planId`, the applied plan with each phase's live status; with it, that
/// revision (the staged one, the applied one, or one applied earlier, from the history store),
/// whose phases are drawn with the live statuses only if it is the applied one (`pending`
/// otherwise). With `runId`, the revision that run ran (unless `planId` names another) coloured
/// with that run's statuses: a run's page draws it so, collapsed or not, since the groups'
/// colours are worked out here from the run's record.
enum GraphRoute {
    static func register(in table: inout RouteTable, _ environment: ServerEnvironment, layouts: GraphLayouts) {
        let logger = environment.logger
        table.add(.get, "/graph.svg") { request, context in
            let query = Query(request)
            let grouping = try Grouping.parse(query.text("groupBy"))
            let planIdAsked = try query.planId("planId")
            let runId = try query.runId("runId", allowsEmpty: false)
            let service = try await environment.service(context)
            let status = await service.statusAnswer()
            let namespace = context.namespace
            let applied = status["planId"]?.stringValue
            // A run's page: the revision it ran, with its statuses (read before the layout: an unknown run is a 404).
            var run: (planId: String?, statuses: [String: String])?
            if let runId { run = try await runStatuses(runId, service: service) }
            let asked = planIdAsked ?? run?.planId
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
                var statuses = run?.statuses ?? [:]
                if runId == nil && planId == applied {
                    for member in status["phases"]?.objectValue ?? JSONObject() { statuses[member.key] = member.value.stringValue }
                }
                var headers: HTTPFields = [.contentType: "image/svg+xml", .cacheControl: "no-store",
                                           HTTPField.Name("X-Planter-Plan")!: planId,
                                           HTTPField.Name("X-Planter-Graph")!: svg.collapsed ? "collapsed" : "phases"]
                if svg.collapsed { headers[HTTPField.Name("X-Planter-Group-By")!] = grouping.description }
                if let runId { headers[HTTPField.Name("X-Planter-Run")!] = runId }
                return Reply.bytes(svg.render(statuses), headers: headers)
            }
        }
    }

    /// The plan id a run ran and each of its phases' status (phases it left out are `skipped` in it).
    static func runStatuses(_ runId: String, service: PlanterService) async throws(APIError) -> (planId: String?, statuses: [String: String]) {
        let run: JSON
        do { run = try await service.runAnswer(runId) } catch { throw APIError(error) }
        var statuses: [String: String] = [:]
        for phase in run["phases"]?.arrayValue ?? [] {
            if let id = phase["id"]?.stringValue, let status = phase["status"]?.stringValue { statuses[id] = status }
        }
        return (run["planId"]?.stringValue, statuses)
    }
}
