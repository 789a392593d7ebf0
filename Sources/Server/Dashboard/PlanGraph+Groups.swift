import PlanterJSON

/// How a collapsed graph groups its phases (`GET /graph.svg?groupBy=`): by wave (the default),
/// or by the value of one label of the phases' `selector.matchLabels` (`label:team`).
enum Grouping: Sendable, Hashable, CustomStringConvertible {
    case wave
    case label(String)

    static let maximumKeyLength = 253

    /// `wave` or `label:<key>`; nil (absent) is `wave`. Anything else is a 400 naming `groupBy`.
    static func parse(_ text: String?) throws(APIError) -> Grouping {
        guard let text, text != "wave" else { return .wave }
        guard text.hasPrefix("label:") else {
            throw APIError.badParameter("groupBy", "expected wave or label:<key> (a label of the phases' selector.matchLabels), got \"\(text)\"")
        }
        let key = String(text.dropFirst("label:".count))
        guard !key.isEmpty else { throw APIError.badParameter("groupBy", "label: needs a label key, as in label:team") }
        // Printable ASCII without spaces: what the OpenAPI document's pattern allows.
        guard key.utf8.count <= maximumKeyLength, key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw APIError.badParameter("groupBy", "a label key is 1 to \(maximumKeyLength) printable ASCII characters without spaces")
        }
        return .label(key)
    }

    var description: String {
        switch self {
        case .wave: return "wave"
        case .label(let key): return "label:" + key
        }
    }
}

extension PlanGraph {
    static func byWave(_ waves: [Int]) -> [[Int]] {
        var byWave = [[Int]](repeating: [], count: (waves.max() ?? -1) + 1)
        for (phase, wave) in waves.enumerated() { byWave[wave].append(phase) }
        return byWave
    }

    /// One group per value of the label, in value order; the phases without it last.
    static func byLabel(_ phases: [JSON], key: String) -> (groups: [[Int]], values: [String?]) {
        var members: [String: [Int]] = [:]
        var without: [Int] = []
        for (index, phase) in phases.enumerated() {
            if let value = phase["spec"]?["selector"]?["matchLabels"]?[key]?.stringValue {
                members[value, default: []].append(index)
            } else {
                without.append(index)
            }
        }
        let values = members.keys.sorted()
        var groups = values.map { members[$0]! }
        var named: [String?] = values
        if !without.isEmpty {
            groups.append(without)
            named.append(nil)
        }
        return (groups, named)
    }

    /// The group of each phase (collapsed).
    private var groupOfPhase: [Int] {
        var group = [Int](repeating: 0, count: ids.count)
        for (index, members) in groups.enumerated() { for phase in members { group[phase] = index } }
        return group
    }

    /// The edges between nodes: each `waitFor` (not collapsed); one per wave and the next (by
    /// wave); one per pair of groups a `waitFor` joins, without loops (by label).
    var edges: [(Int, Int)] {
        guard collapsed else { return dependencies.enumerated().flatMap { phase, deps in deps.map { ($0, phase) } } }
        if case .wave = grouping { return groups.indices.dropFirst().map { ($0 - 1, $0) } }
        let group = groupOfPhase
        var seen = Set<Int>()
        var edges: [(Int, Int)] = []
        for (phase, deps) in dependencies.enumerated() {
            for dep in deps where group[dep] != group[phase] {
                // Group indices fit in 32 bits: one Int keys the pair.
                if seen.insert(group[dep] << 32 | group[phase]).inserted { edges.append((group[dep], group[phase])) }
            }
        }
        return edges
    }

    /// `1 phase`, `3 phases`.
    static func count(_ phases: Int) -> String { phases == 1 ? "1 phase" : "\(phases) phases" }

    /// What a collapsed node is called: `wave 3`, `team=web`, `no team`.
    func groupName(_ index: Int) -> String {
        switch grouping {
        case .wave: return "wave \(index + 1)"
        case .label(let key): return groupValues[index].map { key + "=" + $0 } ?? "no " + key
        }
    }

    /// The SVG attributes naming a node: `data-phase`, or (collapsed) `data-wave` or
    /// `data-label` with `data-value` (absent for the phases without the label), and `data-count`.
    func nodeIdentity(_ index: Int) -> String {
        let members = groups[index]
        guard collapsed else { return "data-phase=\"\(GraphSVG.xml(ids[members[0]]))\"" }
        switch grouping {
        case .wave:
            return "data-wave=\"\(index + 1)\" data-count=\"\(members.count)\""
        case .label(let key):
            let value = groupValues[index].map { " data-value=\"\(GraphSVG.xml($0))\"" } ?? ""
            return "data-label=\"\(GraphSVG.xml(key))\"\(value) data-count=\"\(members.count)\""
        }
    }
}
