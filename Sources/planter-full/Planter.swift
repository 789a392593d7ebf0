import ArgumentParser
import PlanterCommands
import PlanterCore

/// Every command of the CLI. `planter` (Sources/planter) answers `run` and `validate` itself and
/// replaces itself with this program for everything else, so help, version and completions are
/// this tree's.
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
