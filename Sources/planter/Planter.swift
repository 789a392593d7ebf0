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
        subcommands: [
            RunCommand.self, ValidateCommand.self, PluginsCommand.self, ServeCommand.self, WorkerCommand.self,
            // Clients of a running Planter (Client/).
            ApplyCommand.self, DiffCommand.self, StatusCommand.self, RunsCommand.self, LogsCommand.self, RerunCommand.self,
            CancelCommand.self, StopCommand.self, ReloadCommand.self, HealthCommand.self,
        ]
    )
}

/// Exit codes shared by the commands: 0 all succeeded, 1 a phase failed (or the run was
/// cancelled), 2 the manifest or the deployment config is invalid. The client commands add
/// 3 the server cannot be reached, 4 a missing or refused token, 5 no such namespace, run or phase.
enum ExitStatus {
    static let failed = ExitCode(1)
    static let invalid = ExitCode(2)
    static let unreachable = ExitCode(3)
    static let unauthorized = ExitCode(4)
    static let notFound = ExitCode(5)
}

/// `-o` / `--output` of every command: text for a terminal, JSON and YAML for programs.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
    case yaml
}

/// `-o/--output` as a group, for a command whose subcommand takes it too (`plugins`, `plugins check`).
struct OutputOption: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "text, json or yaml")
    var output: OutputFormat = .text
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
