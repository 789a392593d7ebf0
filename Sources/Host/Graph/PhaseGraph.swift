import PlanterCore
import PlanterJSON

/// The dependency graph of a manifest, by phase index (manifest order). Built once per
/// plan; the runner works on indices, never on id lookups.
public struct PhaseGraph: Sendable {
    public let ids: [String]
    public let indexByID: [String: Int]
    /// For each phase, the phases it waits for.
    public let dependencies: [[Int]]
    /// For each phase, the phases that wait for it.
    public let dependents: [[Int]]

    public var count: Int { ids.count }

    /// Builds the graph, reporting duplicate ids, unknown dependencies and cycles at their pointers.
    /// `locations[i]` says where phase i was written. Returns nil when the graph cannot be used.
    public static func build(_ manifest: Manifest, locations: [PhaseLocation], problems: inout Problems) -> PhaseGraph? {
        let phases = manifest.phases
        var indexByID: [String: Int] = [:]
        indexByID.reserveCapacity(phases.count)
        var valid = true
        for (index, phase) in phases.enumerated() where !phase.id.isEmpty {
            if let first = indexByID[phase.id] {
                problems.error(locations[index].id, "duplicate id \"\(phase.id)\" (first used at \(locations[first].phase))")
                valid = false
            } else {
                indexByID[phase.id] = index
            }
        }
        var dependencies = [[Int]](repeating: [], count: phases.count)
        var dependents = [[Int]](repeating: [], count: phases.count)
        // Suggestions cost an edit distance per candidate: a manifest full of unknown ids gets a
        // few, in manifest order (deterministic), not a quadratic search.
        var hintsLeft = 20
        let candidates = phases.prefix(1000).map(\.id)
        for (index, phase) in phases.enumerated() {
            guard let waitFor = phase.spec.waitFor else { continue }
            // A long list is deduplicated by hash (an API client may send 100,000 entries).
            var seen: Set<Int>? = waitFor.phases.count > 16 ? [] : nil
            for (position, id) in waitFor.phases.enumerated() {
                guard let target = indexByID[id] else {
                    var hint = ""
                    if hintsLeft > 0 {
                        hintsLeft -= 1
                        hint = NearestName.hint(for: id, in: candidates)
                    }
                    problems.error(JSONPointer.append(locations[index].waitForPhases, position),
                                   "unknown phase \"\(id)\": no phase of this manifest has that id (\(hint)waitFor can name only "
                                   + "phases of the same manifest: add a phase with id \"\(id)\", or remove it from waitFor)")
                    valid = false
                    continue
                }
                if seen.map({ $0.contains(target) }) ?? dependencies[index].contains(target) { continue }
                seen?.insert(target)
                do {
                    dependencies[index].append(target)
                    dependents[target].append(index)
                }
            }
        }
        let (cycles, cycleCount) = PhaseGraph(ids: [], indexByID: [:], dependencies: dependencies, dependents: [])
            .cycles(limit: maximumReportedCycles)
        let graph = PhaseGraph(ids: phases.map(\.id), indexByID: indexByID, dependencies: dependencies, dependents: dependents)
        for cycle in cycles {
            // A long cycle is shown by its ends: the message must not grow with the manifest.
            let shown = cycle.count <= 20 ? cycle + [cycle[0]] : Array(cycle.prefix(10)) + [-1] + Array(cycle.suffix(9)) + [cycle[0]]
            let names = shown.map { $0 < 0 ? "… (\(cycle.count - 19) more)" : graph.ids[$0] }.joined(separator: " -> ")
            problems.error(locations[cycle[0]].waitFor, "dependency cycle: \(names)")
            valid = false
        }
        if cycleCount > cycles.count {
            problems.error(locations[cycles[0][0]].waitFor, "and \(cycleCount - cycles.count) more dependency cycles (fix the ones above first)")
        }
        return valid ? graph : nil
    }

    /// How many cycles an error report lists; the rest are counted.
    public static let maximumReportedCycles = 10

    /// Cycles found by a depth-first search, each as the phases along it: the first `limit`,
    /// and how many there are in all (counting costs nothing; copying paths would).
    func cycles(limit: Int = .max) -> (found: [[Int]], total: Int) {
        let count = dependencies.count
        var state = [UInt8](repeating: 0, count: count)  // 0 new, 1 on stack, 2 done
        var found: [[Int]] = []
        var stack: [(node: Int, next: Int)] = []
        var onPath: [Int] = []
        var pathPosition = [Int](repeating: 0, count: count)  // where a node on the path stands in it
        var total = 0
        for root in 0..<count where state[root] == 0 {
            stack.append((root, 0))
            state[root] = 1
            pathPosition[root] = onPath.count
            onPath.append(root)
            while let top = stack.last {
                let edges = dependencies[top.node]
                if top.next < edges.count {
                    stack[stack.count - 1].next += 1
                    let target = edges[top.next]
                    if state[target] == 0 {
                        state[target] = 1
                        stack.append((target, 0))
                        pathPosition[target] = onPath.count
                        onPath.append(target)
                    } else if state[target] == 1 {
                        // A waits for B waits for … A: report in waiting order, from the dependency.
                        total += 1
                        if found.count < limit { found.append(Array(onPath[pathPosition[target]...])) }
                    }
                } else {
                    state[top.node] = 2
                    stack.removeLast()
                    onPath.removeLast()
                }
            }
        }
        return (found, total)
    }

    /// Phases grouped by how early they could start: wave 0 waits for nothing (within
    /// `included`), wave n waits only for phases of earlier waves.
    public func waves(including included: [Bool]? = nil) -> [[Int]] {
        var level = [Int](repeating: -1, count: count)
        var waves: [[Int]] = []
        for index in topologicalOrder() where included?[index] ?? true {
            var wave = 0
            for dependency in dependencies[index] where level[dependency] >= 0 {
                wave = max(wave, level[dependency] + 1)
            }
            level[index] = wave
            if wave == waves.count { waves.append([]) }
            waves[wave].append(index)
        }
        return waves.map { $0.sorted() }
    }

    /// Dependencies before dependents; manifest order among equals.
    public func topologicalOrder() -> [Int] {
        var remaining = dependencies.map { $0.count }  // a key path here cost a runtime call per phase
        var heap = MinHeap<Int>()
        for index in 0..<count where remaining[index] == 0 { heap.push(index) }
        var order: [Int] = []
        order.reserveCapacity(count)
        while let index = heap.pop() {
            order.append(index)
            for dependent in dependents[index] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { heap.push(dependent) }
            }
        }
        return order
    }

    /// Everything that waits on `roots`, directly or not (roots included).
    public func downstream(of roots: [Int]) -> [Bool] {
        var marked = [Bool](repeating: false, count: count)
        var stack = roots
        while let index = stack.popLast() {
            if marked[index] { continue }
            marked[index] = true
            stack += dependents[index]
        }
        return marked
    }
}
