import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterJSON

/// `planter rerun PHASE`: POST /phases/:id/run on the applied plan.
struct RerunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Run one phase of the applied plan again (with --with-dependents, everything that waits on it too).",
        discussion: "With --wait, shows the run and exits as planter run does (0 succeeded, 1 a phase failed); 5 no such phase."
    )

    @Argument(help: "The phase id.")
    var phase: String

    @Flag(name: .long, help: "Also run every phase that waits on it, directly or not.")
    var withDependents = false

    @Flag(name: .long, help: "Follow the run until it ends and exit with its outcome.")
    var wait = false

    @Option(name: .long, help: "With --wait: lines, bar, none or auto (default, also $PLANTER_PROGRESS).")
    var progress: ProgressMode?

    @OptionGroup var client: ClientOptions

    func run() throws {
        let endpoint = try client.endpoint(command: "rerun")
        let format = client.output
        let mode = ProgressMode.resolve(progress, quiet: false, environment: ProcessInfo.processInfo.environment)
        let (phase, withDependents, wait) = (self.phase, self.withDependents, self.wait)
        let failed = try PlanterClient.session(endpoint, format: format) { client throws(ExitCode) -> Bool in
            var answer = try await client.send(.POST, "/phases/" + Endpoint.escape(phase) + "/run",
                                               query: [("withDependents", withDependents ? "true" : nil)])
            guard let runId = answer["runId"]?.stringValue else {
                throw client.fail(.failed, "the server's answer names no run: \(answer.serialized)")
            }
            if wait {
                let entry = try await RunFollower(client: client, format: format, progress: mode)
                    .follow(runId, phases: answer["phaseCount"]?.intValue ?? 0)
                answer = answer.adding("result", entry)
                if format != .text { StructuredOutput.write(answer, format) }
                return RunFollower.exitCode(entry) != nil
            }
            if format != .text {
                StructuredOutput.write(answer, format)
            } else {
                StandardOutput.write("rerun of \(phase)\(withDependents ? " and its dependents" : ""): run \(runId) started; "
                    + "follow it with planter logs --follow\n")
            }
            return false
        }
        if failed { throw ExitStatus.failed }
    }
}
