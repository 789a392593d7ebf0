import ArgumentParser
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterHost

/// Exit codes shared by the commands: 0 all succeeded, 1 a phase failed (or the run was
/// cancelled), 2 the manifest or the deployment config is invalid. The client commands add
/// 3 the server cannot be reached, 4 a missing or refused token, 5 no such namespace, run or phase.
package enum ExitStatus {
    package static let failed = ExitCode(1)
    package static let invalid = ExitCode(2)
    package static let unreachable = ExitCode(3)
    package static let unauthorized = ExitCode(4)
    package static let notFound = ExitCode(5)
}

/// `-o` / `--output` of every command: text for a terminal, JSON and YAML for programs.
package enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
    case yaml
}

/// `-o/--output` as a group, for a command whose subcommand takes it too (`plugins`, `plugins check`).
package struct OutputOption: ParsableArguments {
    package init() {}

    @Option(name: [.customShort("o"), .long], help: "text, json or yaml")
    package var output: OutputFormat = .text
}

package struct DeploymentOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: "Deployment config (planter.yaml). Default: $PLANTER_CONFIG, else the built-in deployment.")
    package var config: String?

    @Flag(name: .long, help: "Warnings are errors: open values such as an unknown instanceMode, unknown fields (also PLANTER_STRICT=1).")
    package var strict = false

    package var isStrict: Bool { strict || PlanValidator.strictFromEnvironment(ProcessInfo.processInfo.environment) }

    /// Loads the deployment or exits 2 with every problem.
    package func prepare(format: OutputFormat) throws -> DeploymentSetup {
        switch DeploymentSetup.prepare(configPath: config) {
        case .success(let setup): return setup
        case .failure(let failure):
            ProblemReport.print(failure.problems, format: format, subject: "deployment config")
            throw ExitStatus.invalid
        }
    }
}
