import Foundation
import PlanterJSON

/// The laid-out graphs, one per namespace, plan revision (the plan id) and grouping: dot runs
/// once per plan and grouping, on its own thread, and requests for a plan being laid out wait for that one layout.
/// Failures are not kept, so a fixed `dot` is used at the next request.
actor GraphLayouts {
    struct Settings: Sendable {
        /// `PLANTER_DOT`: the program (looked up in PATH).
        var program = "dot"
        /// `PLANTER_DOT_TIMEOUT`: seconds.
        var timeout: Duration = .seconds(30)
        var maxOutput = 256 << 20
        /// `PLANTER_GRAPH_MAX_NODES`: more phases than this are drawn by group (wave or label).
        var collapseAbove = PlanGraph.defaultCollapseAbove

        static func fromEnvironment(_ environment: [String: String]) -> Settings {
            var settings = Settings()
            if let program = environment["PLANTER_DOT"], !program.isEmpty { settings.program = program }
            // An unreadable or out-of-range value keeps the default rather than stopping the server.
            if let text = environment["PLANTER_DOT_TIMEOUT"], let seconds = Double(text), seconds > 0, seconds <= 3600 {
                settings.timeout = .milliseconds(Int64(seconds * 1000))
            }
            if let text = environment["PLANTER_GRAPH_MAX_NODES"], let nodes = Int(text), nodes >= 0, nodes <= 1_000_000 {
                settings.collapseAbove = nodes
            }
            return settings
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case layout(DotProcess.Failure)
        case svg(GraphSVG.Problem)
        var description: String {
            switch self {
            case .layout(let failure): return failure.description
            case .svg(let problem): return problem.description
            }
        }
    }

    let settings: Settings
    /// Least recently used first.
    private var done: [(key: String, svg: GraphSVG)] = []
    private var running: [String: Task<Result<GraphSVG, Failure>?, Never>] = [:]
    static let kept = 16

    init(settings: Settings) { self.settings = settings }

    static func key(_ namespace: String, _ planId: String, _ grouping: Grouping) -> String {
        namespace + "\u{0}" + planId + "\u{0}" + grouping.description
    }

    /// A layout done before, without reading the plan again.
    func cached(namespace: String, planId: String, grouping: Grouping) -> GraphSVG? {
        let key = Self.key(namespace, planId, grouping)
        guard let index = done.firstIndex(where: { $0.key == key }) else { return nil }
        let entry = done.remove(at: index)
        done.append(entry)
        return entry.svg
    }

    /// Nil when there is no plan of that id (`state` answers GET /state's or GET /plans/{id}'s
    /// document, nil if none; the graph is read from it on the layout's thread too, since 10,000
    /// phases are work).
    func svg(namespace: String, planId: String, grouping: Grouping = .wave,
             state: @escaping @Sendable () async -> JSON?) async -> Result<GraphSVG, Failure>? {
        if let svg = cached(namespace: namespace, planId: planId, grouping: grouping) { return .success(svg) }
        let key = Self.key(namespace, planId, grouping)
        if let task = running[key] { return await task.value }
        let settings = self.settings
        let task = Task { () -> Result<GraphSVG, Failure>? in
            guard let document = await state() else { return nil }
            // Reading the plan, writing the DOT, dot itself and reading its SVG back all run on one thread of their own.
            return await Self.onThread { () -> Result<GraphSVG, Failure>? in
                // The plan may have changed since the request read its id: lay out only the one asked for.
                guard let plan = PlanGraph(state: document, collapseAbove: settings.collapseAbove, grouping: grouping),
                    plan.planId == planId
                else { return nil }
                return Self.layout(plan, settings)
            }
        }
        running[key] = task
        let result = await task.value
        running[key] = nil
        if case .success(let svg)? = result {
            done.append((key, svg))
            if done.count > Self.kept { done.removeFirst() }
        }
        return result
    }

    /// Blocking.
    static func layout(_ plan: PlanGraph, _ settings: Settings) -> Result<GraphSVG, Failure> {
        switch DotProcess.run(plan.dot(), program: settings.program, timeout: settings.timeout, maxOutput: settings.maxOutput) {
        case .failure(let failure): return .failure(.layout(failure))
        case .success(let bytes):
            do { return .success(try GraphSVG(layout: bytes, graph: plan)) } catch { return .failure(.svg(error)) }
        }
    }

    /// Runs `body` on a new thread (not the event loop, not the cooperative pool) and resumes with its value.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "planter-graph-layout"
            thread.start()
        }
    }
}
