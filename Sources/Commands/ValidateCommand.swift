import ArgumentParser
import PlanterCore
import PlanterHost

package struct ValidateCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a plan and report every problem with its JSON pointer (exit 2 when invalid)."
    )

    @Argument(help: "The plan: a JSON or YAML Phase Manifest (- for standard input).")
    package var plan: String

    @OptionGroup package var deployment: DeploymentOptions

    @Option(name: [.customShort("o"), .long], help: "text, json or yaml")
    package var output: OutputFormat = .text

    package func run() throws {
        let setup = try deployment.prepare(format: output)
        switch PlanFile.validate(plan, setup: setup, strict: deployment.isStrict) {
        case .failure(let failure):
            ProblemReport.print(failure.problems, format: output, subject: plan)
            throw ExitStatus.invalid
        case .success(let valid):
            switch output {
            case .json, .yaml:
                StructuredOutput.write(ProblemReport.json(valid.warnings, valid: true), output)
            case .text:
                ProblemReport.printWarnings(valid.warnings)
                StandardOutput.write("\(plan): valid, \(valid.phases.count) phase\(valid.phases.count == 1 ? "" : "s")"
                    + (valid.warnings.isEmpty ? "" : ", \(valid.warnings.count) warning(s)") + "\n")
            }
        }
    }
}
