import ArgumentParser
import Dispatch
import Foundation
import PlanterCore
import PlanterHost
import PlanterJSON

package struct RunCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a plan in this process (no server, no external services).",
        discussion: "Exit codes: 0 every phase succeeded, 1 a phase failed or the run was cancelled, 2 invalid manifest or config."
    )

    @Argument(help: "The plan: a JSON or YAML Phase Manifest (- for standard input).")
    package var plan: String

    @OptionGroup package var deployment: DeploymentOptions

    @Flag(name: .long, help: "Validate and show the waves and the executor of each phase; run nothing.")
    package var dryRun = false

    @Option(name: .long, help: "Phases running at once (default: the deployment's, else the number of cores).")
    package var parallel: Int?

    @Option(name: [.customShort("o"), .long], help: "text: live progress and a summary; json or yaml: the run result.")
    package var output: OutputFormat = .text

    @Option(name: .long, help: "Write every event as a JSON line to this file.")
    package var events: String?

    @Flag(name: .long, help: "Text output: no live progress or phase output, only the summary.")
    package var quiet = false

    @Option(name: .long, help: ArgumentHelp("Text output: lines (one per phase event), bar (one line redrawn), none, or auto "
        + "(default, also $PLANTER_PROGRESS): the bar on a terminal when the plan is longer than its height."))
    package var progress: ProgressMode?

    package func run() throws {
        if let parallel, parallel < 1 {
            StandardError.write("--parallel must be at least 1, got \(parallel)\n")
            throw ExitStatus.invalid
        }
        let setup = try deployment.prepare(format: output)
        defer { setup.registry.close() }  // plugins clean up (folders, workers) before we exit
        ProblemReport.printWarnings(setup.registry.problems.warnings)
        let plan: Plan
        switch PlanFile.validate(self.plan, setup: setup, strict: deployment.isStrict) {
        case .failure(let failure):
            ProblemReport.print(failure.problems, format: output, subject: self.plan)
            throw ExitStatus.invalid
        case .success(let valid):
            plan = valid
        }
        ProblemReport.printWarnings(plan.warnings)
        if dryRun {
            DryRunReport(plan: plan).print(format: output)
            return
        }

        var options = RunOptions(parallel: parallel ?? setup.deployment.parallel ?? RunOptions.defaultParallel)
        options.backoff = setup.deployment.backoff
        options.outputTailBytes = setup.deployment.outputTailBytes
        options.masker = setup.registry.masker
        var sinks: [any EventSink] = []
        let mode = ProgressMode.resolve(progress, quiet: quiet, environment: ProcessInfo.processInfo.environment)
        let live = output == .text ? mode.sink(phases: plan.phases.count) : nil
        if let live { sinks.append(live) }
        var eventsFile: EventLogFile?
        if let events {
            guard let file = EventLogFile(path: events) else {
                StandardError.write("cannot write events to \(events)\n")
                throw ExitStatus.invalid
            }
            eventsFile = file
            sinks.append(file)
        }

        let runner = Runner(plan: plan, options: options, sinks: sinks)
        let interrupts = InterruptHandler { runner.cancel(reason: "interrupted by signal") }
        let result = runner.runBlocking()
        interrupts.stop()
        eventsFile?.close()
        (live as? ProgressBar)?.finish()

        switch output {
        case .json where result.phases.count > 1000:
            // Compact and streamed: the result of a large plan is never built as one JSON tree.
            result.writeCompactJSON { StandardOutput.write(bytes: $0) }
            StandardOutput.write("\n")
        case .json:
            var writer = JSONWriter(capacity: 256 * result.phases.count, pretty: true)
            writer.write(result.json)
            writer.bytes.append(0x0A)
            StandardOutput.write(writer.string)
        case .yaml:
            StructuredOutput.write(result.json, .yaml)
        case .text:
            SummaryTable(result: result, color: Terminal.isTerminal(1)).print()
        }
        if result.status != .succeeded { throw ExitStatus.failed }
    }
}

/// SIGINT/SIGTERM cancel the run (killing running process groups) instead of killing
/// Planter and orphaning them.
package final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    package init(_ onSignal: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: onSignal)
            source.resume()
            return source
        }
    }

    package func stop() {
        for source in sources { source.cancel() }
    }
}
