import ArgumentParser
import PlanterCommands
import PlanterCore

/// Every command of the CLI. The `planter` launcher (Sources/planter) starts planter-run for
/// `run` and `validate` and this program for everything else, so help, version and completions
/// are this tree's.
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
