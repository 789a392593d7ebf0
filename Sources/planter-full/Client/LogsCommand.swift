import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterJSON

/// `planter logs`: a run's events (GET /logs); `--follow` shows the run live until it ends.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show the events of runs of a running Planter; --follow shows a run live until it ends.",
        discussion: """
            --follow follows --run, else the run in progress, else the last run, as planter run shows a run, \
            and exits as planter run does: 0 the run succeeded, 1 it did not. With -o json, one event per line.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("run"), help: "Only this run's events.")
    var runId: String?

    @Option(name: .long, help: "Only this phase's events.")
    var phase: String?

    @Option(name: .long, help: "Only events from this level up: debug, info, warning or error.")
    var level: EventLevel?

    @Flag(name: [.customShort("f"), .long], help: "Follow the run until it ends.")
    var follow = false

    @Option(name: .long, help: "At most this many events, the newest (1-100000, default 1000; not with --follow).")
    var limit: Int?

    @Option(name: .long, help: "With --follow: lines, bar, none or auto (default, also $PLANTER_PROGRESS).")
    var progress: ProgressMode?

    enum EventLevel: String, ExpressibleByArgument, CaseIterable {
        case debug, info, warning, error

        var logLevel: LogLevel { LogLevel.allCases.first { $0.name == rawValue } ?? .warning }
    }

    mutating func validate() throws {
        if let limit, !(1...100_000).contains(limit) { throw ValidationError("--limit must be between 1 and 100000, got \(limit)") }
        if follow && limit != nil { throw ValidationError("--limit does not apply with --follow: the whole run is shown") }
    }

    func run() throws {
        let endpoint = try client.endpoint(command: "logs")
        let format = client.output
        let filters = [("phaseId", phase), ("level", level?.rawValue)]
        let mode = ProgressMode.resolve(progress, quiet: false, environment: ProcessInfo.processInfo.environment)
        let (run, follow, limit, threshold) = (runId, self.follow, self.limit, level?.logLevel ?? .warning)
        let failed = try PlanterClient.session(endpoint, format: format) { client throws(ExitCode) -> Bool in
            guard follow else {
                let answer = try await client.send(.GET, "/logs", query: [("runId", run)] + filters + [("limit", limit.map(String.init))])
                if format != .text {
                    StructuredOutput.write(answer, format)
                } else {
                    let events = answer["events"]?.arrayValue ?? []
                    StandardOutput.write(events.isEmpty ? "no events\n" : events.map(EventText.line).joined())
                }
                return false
            }
            let status = try await client.send(.GET, "/status")
            let runId = try await Self.runToFollow(run, active: status["activeRunId"]?.stringValue, client: client)
            var follower = RunFollower(client: client, format: format, progress: mode, filters: filters)
            follower.logThreshold = threshold
            follower.printsEvents = true
            let entry = try await follower.follow(runId, phases: status["total"]?.intValue ?? 0)
            return RunFollower.exitCode(entry) != nil
        }
        if failed { throw ExitStatus.failed }
    }

    /// The run named, else the one in progress, else the newest; exit 5 when there is none.
    static func runToFollow(_ named: String?, active: String?, client: PlanterClient) async throws(ExitCode) -> String {
        if let named { return named }
        if let active { return active }
        let runs = try await client.send(.GET, "/runs", query: [("limit", "1")])
        guard let newest = runs["runs"]?.arrayValue?.first?["runId"]?.stringValue else {
            throw client.fail(.notFound, "namespace \(client.endpoint.namespaceName) has no runs to follow")
        }
        return newest
    }
}

/// Events as `planter logs` prints them.
enum EventText {
    /// `05:50:01.123 info    build        attemptStarted  message`; output text indented under it.
    static func line(_ event: JSON) -> String {
        let time = event["time"]?.stringValue ?? ""
        let clock = time.split(separator: "T").last.map { String($0.prefix(12)) } ?? time
        var message = event["message"]?.stringValue ?? ""
        if let details = event["details"], event["type"]?.stringValue != "output", details != .object(JSONObject()) {
            message += (message.isEmpty ? "" : "  ") + details.serialized
        }
        if message.hasSuffix("\n") { message.removeLast() }
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        let head = clock + " " + Terminal.pad(event["level"]?.stringValue ?? "", 7) + " " + Terminal.pad(event["phaseId"]?.stringValue ?? "-", 16)
            + " " + Terminal.pad(event["type"]?.stringValue ?? "", 15) + " " + (lines.first.map(String.init) ?? "")
        return ([head] + lines.dropFirst().map { "    │ " + $0 }).joined(separator: "\n") + "\n"
    }

    /// One event as a JSON line, or a YAML document.
    static func printStructured(_ event: JSON, _ format: OutputFormat) {
        StandardOutput.write(format == .yaml ? "---\n" + YAMLText.render(event) : event.serialized + "\n")
    }
}
