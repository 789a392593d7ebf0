import ArgumentParser
import PlanterCommands
import PlanterCore
import PlanterJSON

/// `planter status`: GET /status, the run in progress and each phase's status.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running Planter's status: the run in progress, each phase's status, the counts."
    )

    @OptionGroup var client: ClientOptions

    func run() throws {
        try client.show("status", { client throws(ExitCode) in try await client.send(.GET, "/status") },
                        text: { answer, endpoint in Self.text(answer, namespace: endpoint.namespaceName) })
    }

    /// The header, the counts, and the phases (beyond `SummaryTable.fullListLimit`, only those not succeeded).
    static func text(_ answer: JSON, namespace: String) -> String {
        let active = answer["activeRunId"]?.stringValue
        let plan = answer["planId"]?.stringValue
        var lines = ["namespace \(namespace): " + (plan.map { "plan \($0)" } ?? "no plan applied") + ", "
            + (active.map { "run \($0) \(answer["status"]?.stringValue ?? "running")" } ?? "idle")]
        let total = answer["total"]?.intValue ?? 0
        let counts = (answer["counts"]?.objectValue ?? JSONObject()).compactMap { member -> String? in
            guard let count = member.value.intValue, count > 0 else { return nil }
            return "\(count) \(member.key)"
        }
        lines.append("\(total) phase\(total == 1 ? "" : "s")" + (counts.isEmpty ? "" : ": " + counts.joined(separator: ", ")))
        if let queued = answer["queued"]?.intValue, queued > 0 { lines.append("\(queued) plan\(queued == 1 ? "" : "s") queued") }
        let phases = answer["phases"]?.objectValue ?? JSONObject()
        let shown = phases.count <= SummaryTable.fullListLimit ? Array(phases) : phases.filter { $0.value.stringValue != "succeeded" }
        if !shown.isEmpty {
            let width = min(32, max(5, shown.map(\.key.count).max() ?? 5))
            lines.append("")
            lines.append(Terminal.pad("PHASE", width) + "  STATUS")
            let color = Terminal.isTerminal(1)
            for member in shown {
                let status = member.value.stringValue ?? "?"
                lines.append(Terminal.pad(member.key, width) + "  " + Terminal.paint(status, Self.colorCode(status), color))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func colorCode(_ status: String) -> String {
        switch status {
        case "succeeded": return "32"
        case "running", "waiting": return "36"
        case "pending", "skipped", "idle": return "2"
        default: return "31"
        }
    }
}

/// `planter runs`: GET /runs, newest first.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the runs of a running Planter, newest first (the one in progress first)."
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "How many runs (1-1000, default 20).")
    var limit = 20

    @Option(name: .long, help: "Only the runs of this plan revision.")
    var plan: String?

    mutating func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000, got \(limit)") }
    }

    func run() throws {
        let query = [("limit", String(limit)), ("planId", plan)]
        try client.show("runs", { client throws(ExitCode) in try await client.send(.GET, "/runs", query: query) },
                        text: { answer, _ in Self.text(answer["runs"]?.arrayValue ?? []) })
    }

    /// RUN, STATUS, STARTED, TIME, PHASES (counts by status), TRIGGER, BY.
    static func text(_ runs: [JSON]) -> String {
        guard !runs.isEmpty else { return "no runs yet\n" }
        let width = min(40, max(3, runs.map { $0["runId"]?.stringValue?.count ?? 0 }.max() ?? 3))
        var lines = [Terminal.pad("RUN", width) + "  " + Terminal.pad("STATUS", 11) + "  " + Terminal.pad("STARTED", 24) + "  "
            + Terminal.pad("TIME", 8) + "  " + Terminal.pad("TRIGGER", 8) + "  " + Terminal.pad("BY", 14) + "  PHASES"]
        let color = Terminal.isTerminal(1)
        for run in runs {
            let status = run["status"]?.stringValue ?? "?"
            let summary = (run["summary"]?.objectValue ?? JSONObject()).map { "\($0.value.intValue ?? 0) \($0.key)" }.joined(separator: ", ")
            let time = run["durationMs"]?.intValue.map { Terminal.seconds(Int64($0)) } ?? "-"
            lines.append(Terminal.pad(run["runId"]?.stringValue ?? "?", width) + "  "
                + Terminal.paint(Terminal.pad(status, 11), StatusCommand.colorCode(status), color) + "  "
                + Terminal.pad(run["startedAt"]?.stringValue ?? "-", 24) + "  " + Terminal.pad(time, 8) + "  "
                + Terminal.pad(run["trigger"]?.stringValue ?? "-", 8) + "  " + Terminal.pad(run["triggeredBy"]?.stringValue ?? "-", 14)
                + "  " + summary)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
