/// dot's SVG made into the dashboard's: every node `<g>` carries `data-phase` (or, collapsed,
/// `data-wave` or `data-label`/`data-value`, and `data-count`), `data-status`, `tabindex` and
/// `role`, and its `<title>` names the phase. Laid out once per plan revision; the statuses change, so the SVG is kept as
/// segments around one status slot per node and filled at each request.
struct GraphSVG: Sendable {
    let planId: String
    let collapsed: Bool
    /// `segments.count == slots.count + 1`; slot K is the status of the phases `slots[K]`.
    private let segments: [[UInt8]]
    private let slots: [[Int]]
    let phaseIds: [String]

    enum Problem: Error, CustomStringConvertible {
        case notSVG
        case missingNodes(expected: Int, found: Int)
        var description: String {
            switch self {
            case .notSVG: return "the graph layout program wrote no SVG"
            case .missingNodes(let expected, let found): return "the graph layout has \(found) of the plan's \(expected) nodes"
            }
        }
    }

    init(layout: [UInt8], graph: PlanGraph) throws(Problem) {
        planId = graph.planId
        collapsed = graph.collapsed
        phaseIds = graph.ids
        let groups = graph.groups
        let text = String(decoding: layout, as: UTF8.self)
        guard let start = text.range(of: "<svg") else { throw .notSVG }
        var segments: [[UInt8]] = []
        var slots: [[Int]] = []
        var current: [UInt8] = []
        current.reserveCapacity(layout.count + groups.count * 96)
        var titleFor: Int?
        for line in text[start.lowerBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<svg") {
                let mode = graph.collapsed ? "collapsed\" data-group-by=\"\(Self.xml(graph.grouping.description))" : "phases"
                current += Array("<svg class=\"plan-graph\" data-plan=\"\(Self.xml(graph.planId))\" data-mode=\"\(mode)\" role=\"group\" aria-label=\"plan \(Self.xml(graph.planId))\"".utf8)
                current += Array(line.dropFirst(4).utf8)
            } else if let group = Self.nodeIndex(line), group < groups.count {
                let members = groups[group]
                let name = graph.collapsed ? "\(graph.groupName(group)), \(PlanGraph.count(members.count))" : graph.ids[members[0]]
                current += Array("<g id=\"g\(group)\" class=\"node\" \(graph.nodeIdentity(group)) tabindex=\"0\" role=\"button\" aria-label=\"\(Self.xml(name))\" data-status=\"".utf8)
                segments.append(current)
                slots.append(members)
                current = Array("\">".utf8)
                titleFor = group
            } else if let group = titleFor, line.hasPrefix("<title>") {
                let members = groups[group]
                let name = graph.collapsed ? "\(graph.groupName(group)): \(PlanGraph.count(members.count))" : graph.ids[members[0]]
                current += Array("<title>\(Self.xml(name))</title>".utf8)
                titleFor = nil
            } else if line.hasPrefix("<?xml") || line.hasPrefix("<!") {
                continue
            } else {
                current += Array(line.utf8)
            }
            current.append(UInt8(ascii: "\n"))
        }
        segments.append(current)
        guard slots.count == groups.count else { throw .missingNodes(expected: groups.count, found: slots.count) }
        self.segments = segments
        self.slots = slots
    }

    /// `<g id="g12" class="node">` → 12.
    static func nodeIndex(_ line: Substring) -> Int? {
        let head = "<g id=\"g", tail = "\" class=\"node\">"
        guard line.hasPrefix(head), line.hasSuffix(tail) else { return nil }
        let digits = line.dropFirst(head.count).dropLast(tail.count)
        guard !digits.isEmpty, digits.count < 10, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The SVG with each node's status from `statuses` (phase id → status; missing: pending).
    func render(_ statuses: [String: String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(segments.reduce(0) { $0 + $1.count } + slots.count * 10)
        for (index, slot) in slots.enumerated() {
            out += segments[index]
            out += Array(Self.aggregate(slot.map { statuses[phaseIds[$0]] ?? "pending" }).utf8)
        }
        out += segments[segments.count - 1]
        return out
    }

    /// One status for a group of phases: what a person most needs to see first.
    static func aggregate(_ statuses: [String]) -> String {
        if statuses.count == 1 { return statuses[0] }
        let present = Set(statuses)
        for urgent in ["running", "waiting", "failed", "timedOut", "cancelled"] where present.contains(urgent) { return urgent }
        if present.isEmpty || present.contains("pending") { return "pending" }
        return present.contains("succeeded") ? "succeeded" : "skipped"
    }

    /// Text for an XML attribute or element, by scalar (a `"` with a combining mark after it is
    /// one Character); NUL and the other C0 controls XML forbids become U+FFFD.
    static func xml(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
