import PlanterCore
import PlanterHost

/// The table printed after a run. Large runs list only the phases that did not succeed.
package struct SummaryTable {
    package let result: RunResult
    package let color: Bool
    package static let fullListLimit = 50

    package init(result: RunResult, color: Bool) {
        self.result = result
        self.color = color
    }

    package func print() {
        var lines: [String] = [""]
        let shown = result.phases.count <= Self.fullListLimit ? result.phases : result.phases.filter { $0.status != .succeeded }
        if !shown.isEmpty {
            let width = min(32, max(5, shown.map(\.id.count).max() ?? 5))
            lines.append(Terminal.pad("PHASE", width) + "  " + Terminal.pad("STATUS", 10) + "  ATTEMPTS  "
                + Terminal.pad("TIME", 8) + "  " + Terminal.pad("EXECUTOR", 10) + "  MESSAGE")
            for phase in shown {
                let time = phase.startedAt.flatMap { start in phase.endedAt.map { Terminal.seconds($0.milliseconds(since: start)) } } ?? "-"
                let statusText = Terminal.pad(phase.status.rawValue, 10)
                let painted = Terminal.paint(statusText, phase.status == .succeeded ? "32" : phase.status == .skipped ? "2" : "31", color)
                var message = phase.message
                if let first = message.split(separator: "\n").first, first.count < message.count { message = first + " …" }
                if !phase.labels.isEmpty { message += " [" + phase.labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "]" }
                lines.append(Terminal.pad(phase.id, width) + "  " + painted + "  " + Terminal.pad(String(phase.attempts.count), 8)
                    + "  " + Terminal.pad(time, 8) + "  " + Terminal.pad(phase.executor, 10) + "  " + message)
            }
        }
        let counts = PhaseStatus.allCases.compactMap { status -> String? in
            let count = result.count(status)
            return count > 0 ? "\(count) \(status.rawValue)" : nil
        }
        lines.append("")
        lines.append("run \(result.runId) \(result.status.rawValue) in \(Terminal.seconds(result.durationMs)): "
            + counts.joined(separator: ", "))
        StandardOutput.write(lines.joined(separator: "\n") + "\n")
    }
}
