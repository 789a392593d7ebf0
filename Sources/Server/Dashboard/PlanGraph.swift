import PlanterJSON

/// A plan as the dashboard draws it: phases with their `waitFor` edges and waves, and the DOT
/// text Graphviz lays out. Past `collapseAbove` phases it draws one node per group (with its
/// phase count) instead of one per phase, grouped by wave or by a label's value (`Grouping`):
/// dot on tens of thousands of nodes takes minutes and nobody can read the result; the page
/// shows a filterable table beside it.
struct PlanGraph: Sendable {
    static let defaultCollapseAbove = 2000

    let planId: String
    let ids: [String]
    /// Indices of each phase's dependencies (unknown names are dropped: the plan was validated).
    let dependencies: [[Int]]
    /// 0-based wave of each phase: 1 + the deepest dependency's wave.
    let waves: [Int]
    let collapsed: Bool
    let grouping: Grouping
    /// The nodes drawn: each one phase, or (collapsed) one group's phases.
    let groups: [[Int]]
    /// Collapsed by label: each group's value of the label (nil: phases without it).
    let groupValues: [String?]

    /// From `GET /state`'s or `GET /plans/{id}`'s answer (`planId`, `phases` canonical).
    init?(state: JSON, collapseAbove: Int = defaultCollapseAbove, grouping: Grouping = .wave) {
        guard let planId = state["planId"]?.stringValue, let phases = state["phases"]?.arrayValue else { return nil }
        self.planId = planId
        var ids: [String] = []
        ids.reserveCapacity(phases.count)
        for phase in phases { ids.append(phase["id"]?.stringValue ?? "") }
        var index: [String: Int] = [:]
        for (position, id) in ids.enumerated() { index[id] = position }
        dependencies = phases.map { phase in
            (phase["spec"]?["waitFor"]?["phases"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { index[$0] } }
        }
        self.ids = ids
        collapsed = ids.count > collapseAbove
        self.grouping = grouping
        let waves = Self.waves(dependencies)
        self.waves = waves
        switch (collapsed, grouping) {
        case (false, _):
            groups = ids.indices.map { [$0] }
            groupValues = []
        case (true, .wave):
            groups = Self.byWave(waves)
            groupValues = []
        case (true, .label(let key)):
            (groups, groupValues) = Self.byLabel(phases, key: key)
        }
    }

    /// Iterative depth-first levels (no recursion: a 10,000-deep chain must not overflow the stack).
    /// A cycle (impossible after validation) is cut where it closes.
    static func waves(_ dependencies: [[Int]]) -> [Int] {
        var wave = [Int](repeating: -1, count: dependencies.count)
        var onStack = [Bool](repeating: false, count: dependencies.count)
        for root in dependencies.indices where wave[root] < 0 {
            var stack: [(node: Int, next: Int)] = [(root, 0)]
            onStack[root] = true
            while let top = stack.last {
                let deps = dependencies[top.node]
                if top.next < deps.count {
                    stack[stack.count - 1].next += 1
                    let dep = deps[top.next]
                    if wave[dep] < 0 && !onStack[dep] {
                        onStack[dep] = true
                        stack.append((dep, 0))
                    }
                } else {
                    wave[top.node] = deps.reduce(0) { max($0, wave[$1] + 1) }
                    onStack[top.node] = false
                    stack.removeLast()
                }
            }
        }
        return wave
    }

    /// DOT: node `nK` has SVG id `gK` (K indexes `groups`); labels are escaped DOT strings.
    func dot() -> [UInt8] {
        var text = """
            digraph plan {
              graph [rankdir=LR, bgcolor="transparent", nodesep=0.2, ranksep=0.45, fontname="sans-serif"];
              node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=11, height=0.3, margin="0.12,0.04"];
              edge [arrowsize=0.6];

            """
        text.reserveCapacity(ids.count * 48)
        for (index, members) in groups.enumerated() {
            let label = collapsed ? Self.escape(groupName(index)) + "\\n" + Self.count(members.count)
                : Self.escape(ids[members[0]])
            text += "  n\(index) [id=\"g\(index)\", label=\"\(label)\"];\n"
        }
        for (from, to) in edges { text += "  n\(from) -> n\(to);\n" }
        text += "}\n"
        return Array(text.utf8)
    }

    /// dot refuses a quoted string of 16,384 bytes or more; the node's `<title>` keeps the whole id.
    static let maximumLabelScalars = 1000

    /// A DOT double-quoted string's content: `"` and `\` escaped, line breaks as `\n`, NUL (which
    /// ends dot's string) as U+FFFD, cut at `maximumLabelScalars`. By scalar, not by Character:
    /// a `"` followed by a combining mark is one Character, and must still be escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        var count = 0
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            count += 1
            if count > maximumLabelScalars {
                out += "…"
                break
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n" where previous == "\r": break
            case "\n", "\r": out += "\\n"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
            previous = scalar
        }
        return out
    }
}
