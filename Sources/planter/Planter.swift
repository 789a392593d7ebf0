import ArgumentParser
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterHost

@main
struct Planter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planter",
        abstract: "Runs Phase Manifests through pluggable executors.",
        version: PlanterVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self, PluginsCommand.self, ServeCommand.self, WorkerCommand.self]
    )
}

/// Exit codes shared by the commands: 0 all succeeded, 1 a phase failed (or the run was
/// cancelled), 2 the manifest or the deployment config is invalid.
enum ExitStatus {
    static let failed = ExitCode(1)
    static let invalid = ExitCode(2)
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

struct DeploymentOptions: ParsableArguments {
    @Option(name: .long, help: "Deployment config (planter.yaml). Default: $PLANTER_CONFIG, else the built-in deployment.")
    var config: String?

    @Flag(name: .long, help: "Warnings are errors: open values such as an unknown instanceMode, unknown fields (also PLANTER_STRICT=1).")
    var strict = false

    var isStrict: Bool { strict || PlanValidator.strictFromEnvironment(ProcessInfo.processInfo.environment) }

    /// Loads the deployment or exits 2 with every problem.
    func prepare(format: OutputFormat) throws -> DeploymentSetup {
        switch DeploymentSetup.prepare(configPath: config) {
        case .success(let setup): return setup
        case .failure(let failure):
            ProblemReport.print(failure.problems, format: format, subject: "deployment config")
            throw ExitStatus.invalid
        }
    }
}
