import ArgumentParser
import PlanterCommands
import PlanterCore

// planter-run: `planter run` and `planter validate`, started by the `planter` launcher
// (Sources/planter). It links only the engine, because a short run is mostly start-up; every
// other command is planter-full's.

/// The commands of this program, under planter's name, so usage and help read as planter's.
struct OfflinePlanter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planter",
        abstract: "Runs Phase Manifests through pluggable executors (run and validate; every other command is planter-full's).",
        version: PlanterVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self]
    )
}

OfflinePlanter.main()
