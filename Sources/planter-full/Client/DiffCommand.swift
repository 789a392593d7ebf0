import ArgumentParser
import PlanterCore
import PlanterJSON

/// `planter diff FILE`: the plan against the applied one, field by field (POST /diff, or GET /diff for --staged).
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare a plan (or the staged plan) with the applied plan of a running Planter, field by field."
    )

    @Argument(help: "The plan: a JSON or YAML Phase Manifest (- for standard input); none with --staged.")
    var plan: String?

    @Flag(name: .long, help: "Compare the staged plan (GET /diff).")
    var staged = false

    @OptionGroup var client: ClientOptions

    mutating func validate() throws {
        if staged && plan != nil { throw ValidationError("--staged compares the staged plan: give no FILE") }
        if !staged && plan == nil { throw ValidationError("name the plan file (or - for standard input), or --staged") }
    }

    func run() throws {
        let body = try plan.map { try ManifestRequest.read($0, command: "diff") }
        try client.show("diff", { client throws(ExitCode) in
            guard let body else { return try await client.send(.GET, "/diff") }
            return try await client.send(.POST, "/diff", body: body.bytes, contentType: body.contentType)
        }, text: { answer, _ in
            if body == nil && answer["staged"] == .null { return "nothing is staged (stage a plan with planter apply FILE --stage)\n" }
            let against = answer["appliedPlanId"]?.stringValue ?? "nothing (no plan applied yet)"
            return DiffText.lines(answer, against: against).joined(separator: "\n") + "\n"
        })
    }
}

/// A plan diff (PlanDiff's JSON) as text: `+ added`, `- removed`, `~ changed` with each field's old → new.
enum DiffText {
    static func counts(_ diff: JSON?) -> String {
        guard let summary = diff?["summary"] else { return "" }
        return ["added", "changed", "removed", "unchanged"].compactMap { key in
            let count = summary[key]?.intValue ?? 0
            return count > 0 ? "\(count) \(key)" : nil
        }.joined(separator: ", ")
    }

    static func lines(_ diff: JSON, against: String?) -> [String] {
        let counts = counts(diff)
        var lines = [(against.map { "against \($0): " } ?? "") + (counts.isEmpty ? "no phases" : counts)]
        for id in diff["added"]?.arrayValue ?? [] { lines.append("+ \(id.stringValue ?? "?")") }
        for id in diff["removed"]?.arrayValue ?? [] { lines.append("- \(id.stringValue ?? "?")") }
        for change in diff["changed"]?.arrayValue ?? [] {
            lines.append("~ \(change["id"]?.stringValue ?? "?")")
            for field in change["changes"]?.arrayValue ?? [] {
                let path = field["path"]?.stringValue ?? ""
                let old = field["old"].map(shown) ?? "(none)"
                let new = field["new"].map(shown) ?? "(none)"
                switch field["op"]?.stringValue {
                case "add": lines.append("    \(path): added \(new)")
                case "remove": lines.append("    \(path): removed (was \(old))")
                default: lines.append("    \(path): \(old) → \(new)")
                }
            }
        }
        return lines
    }

    /// A value on one line, cut at 120 characters.
    private static func shown(_ value: JSON) -> String {
        let text = value.serialized
        return text.count > 120 ? String(text.prefix(119)) + "…" : text
    }
}
