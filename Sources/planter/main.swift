import ArgumentParser
import Glibc
import PlanterCommands
import PlanterCore

// `planter`, the command people type. A one-phase `planter run` is mostly start-up, and start-up is
// mostly the dynamic loader and the runtime's type lookups, which grow with what the program
// links. So `run` and `validate` are answered by this small program (the engine, no HTTP server,
// NATS, Redis or TLS), and for every other command, help and version included, it replaces itself
// with `planter-full` from its own folder (same process id, arguments and environment, so signals,
// exit codes and `kill` work as if it were one program).

/// The commands this program answers itself; their help is the same as in planter-full's tree.
struct OfflinePlanter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planter",
        abstract: "Runs Phase Manifests through pluggable executors.",
        version: PlanterVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self]
    )
}

let offlineCommands: Set<String> = ["run", "validate"]

if CommandLine.arguments.count > 1, offlineCommands.contains(CommandLine.arguments[1]) {
    OfflinePlanter.main()  // returns only when the command succeeded (errors exit inside)
    exit(0)
}
StandardError.write("planter: \(FullProgram.exec())\n")
exit(127)
