import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterHost
import PlanterJSON

/// Follows a run of the server to its end the way `planter run` shows one (GET /logs?follow=true,
/// a line per phase or the progress bar), then reads its result (GET /runs/:id) for the summary
/// and the exit code: 0 succeeded, 1 a phase failed or the run was cancelled.
struct RunFollower {
    let client: PlanterClient
    let format: OutputFormat
    let progress: ProgressMode
    /// Events the server should send (phaseId, level); the stream still ends with the run.
    var filters: [(String, String?)] = []
    /// `log` events shown from this level up (text).
    var logThreshold: LogLevel = .warning
    /// JSON or YAML: print each event as it comes (`planter logs --follow`), not only the result.
    var printsEvents = false

    /// Shows `runId` until it ends; `phases` sizes the progress bar. Returns the run's entry
    /// (GET /runs/:id); text output also prints the summary table.
    func follow(_ runId: String, phases: Int) async throws(ExitCode) -> JSON {
        let sink = format == .text ? progress.sink(phases: phases, logThreshold: logThreshold) : nil
        let query = [("runId", runId), ("follow", "true"), ("limit", String(LogStreamLimit.backlog))] + filters
        let format = format, printsEvents = printsEvents
        // Ctrl-C stops following, not the run: say so (below the bar) and exit as a shell expects (130).
        let interrupts = InterruptHandler {
            (sink as? ProgressBar)?.finish()
            StandardError.write("\nplanter \(client.endpoint.command): stopped following run \(runId); it goes on "
                + "(planter cancel \(runId) stops it)\n")
            exit(130)
        }
        defer { interrupts.stop() }
        do throws(ExitCode) {
            try await client.events("/logs", query: query) { json in
                if let sink {
                    if let event = RunEvent(json: json) { sink.receive(event) }
                } else if printsEvents {
                    EventText.printStructured(json, format)
                }
            }
        } catch {
            (sink as? ProgressBar)?.finish()  // the error's line goes below the bar, not over it
            throw error
        }
        (sink as? ProgressBar)?.finish()
        let entry = try await client.send(.GET, "/runs/" + Endpoint.escape(runId))
        if format == .text, let result = RunResult(json: entry) {
            SummaryTable(result: result, color: Terminal.isTerminal(1)).print()
        }
        return entry
    }

    /// The exit status of a finished run's entry.
    static func exitCode(_ entry: JSON) -> ExitCode? {
        entry["status"]?.stringValue == RunStatus.succeeded.rawValue ? nil : ExitStatus.failed
    }
}

enum LogStreamLimit {
    /// The backlog a follower asks for: the API's maximum, so a run that ended before the stream
    /// opened still shows whole.
    static let backlog = 100_000
}

extension JSON {
    /// An object with `key` set (added last, or replaced where it is).
    func adding(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}

extension RunEvent {
    /// Reads an event as the API writes it (`RunEvent.write`); nil for something else.
    init?(json: JSON) {
        guard let type = json["type"]?.stringValue, let kind = Kind(rawValue: type),
            let time = json["time"]?.stringValue.flatMap(Timestamp.init(iso8601:)) else { return nil }
        let levelName = json["level"]?.stringValue ?? "info"
        self.init(time: time, runId: json["runId"]?.stringValue ?? "", phaseId: json["phaseId"]?.stringValue,
                  attempt: json["attempt"]?.intValue, kind: kind, level: LogLevel.allCases.first { $0.name == levelName } ?? .info,
                  message: json["message"]?.stringValue ?? "", details: json["details"]?.objectValue ?? JSONObject())
    }
}
