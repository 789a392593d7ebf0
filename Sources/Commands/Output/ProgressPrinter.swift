import PlanterCore
import PlanterHost
import Synchronization

/// Live progress for `planter run`: a line when a phase starts, retries, finishes or is
/// skipped (with its elapsed time), and the phases' output as it streams, indented.
package final class ProgressPrinter: EventSink {
    private let color: Bool
    /// `log` events from this level up get a line (`planter logs --follow --level debug` lowers it).
    private let logThreshold: LogLevel
    private let started = Mutex<[String: Timestamp]>([:])

    package init(color: Bool, logThreshold: LogLevel = .warning) {
        self.color = color
        self.logThreshold = logThreshold
    }

    package func receive(_ event: RunEvent) {
        let id = event.phaseId ?? ""
        switch event.kind {
        case .attemptStarted:
            started.withLock { $0[id] = event.time }
            line(Terminal.paint("▸", "36", color), id, "running", event.message)
        case .output:
            var text = event.message
            if text.hasSuffix("\n") { text.removeLast() }
            let prefix = Terminal.paint("  │ \(id): ", "2", color)
            StandardOutput.write(text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { prefix + $0 }.joined(separator: "\n") + "\n")
        case .retryScheduled:
            line(Terminal.paint("↻", "33", color), id, "waiting", event.message)
        case .phaseFinished:
            let status = event.details["status"]?.stringValue ?? ""
            let begin = started.withLock { $0[id] }
            let elapsed = begin.map { Terminal.seconds(event.time.milliseconds(since: $0)) } ?? ""
            let ok = status == "succeeded"
            line(Terminal.paint(ok ? "✓" : "✗", ok ? "32" : "31", color), id, status,
                 ok ? elapsed : "\(elapsed)  \(event.message)")
        case .phaseSkipped:
            line(Terminal.paint("-", "2", color), id, "skipped", event.message)
        case .handlerMessage:
            StandardOutput.write("    \(id): \(event.message)\n")
        case .notify:
            StandardOutput.write("    \(id): notify \(event.details["targets"]?.serialized ?? "")\n")
        case .log where event.level >= logThreshold:
            StandardOutput.write("    \(id): [\(event.level.name)] \(event.message)\n")
        default:
            break
        }
    }

    private func line(_ mark: String, _ id: String, _ status: String, _ detail: String) {
        StandardOutput.write("\(mark) \(Terminal.pad(id, 24)) \(Terminal.pad(status, 10)) \(detail)\n")
    }
}
