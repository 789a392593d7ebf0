import ArgumentParser
import PlanterCommands
import Dispatch
import PlanterCore
import PlanterDeployment
import PlanterHost
import PlanterServer
import Synchronization

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Planter HTTP API (plans, diffs, staging, logs, runs, state that survives restarts).",
        discussion: """
            Environment: PORT (default port), PLANTER_ROOT (state folder root, default /etc/planter), PLANTER_PREFIX \
            (serve under a path such as /api/v1), PLANTER_TOKEN (require Authorization: Bearer), PLANTER_MAX_BODY \
            (bytes, default 8 MiB), PLANTER_SYNC_FROM and PLANTER_SYNC_INTERVAL (take the plan of another Planter), \
            PLANTER_SHUTDOWN_GRACE (seconds a running plan may take to finish on shutdown, default 10), PLANTER_CONFIG, \
            LOG_LEVEL. SIGTERM/SIGINT save and exit 0; SIGHUP reloads the state file.
            """
    )

    @Option(name: .long, help: "Address to bind (default 0.0.0.0).")
    var host: String?

    @Option(name: .long, help: "Port to bind (default $PORT, else 3030; 0 picks a free port).")
    var port: Int?

    @Option(name: .long, help: "Deployment config (planter.yaml). Default: $PLANTER_CONFIG, else the built-in deployment.")
    var config: String?

    @Option(name: .long, help: "State root: the state file is ROOT/state/state.json (default $PLANTER_ROOT, else /etc/planter).")
    var root: String?

    @Option(name: .long, help: "Phases running at once (default: the deployment's, else the number of cores).")
    var parallel: Int?

    mutating func validate() throws {
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1") }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() throws {
        var settings: ServerSettings
        do {
            settings = try ServerSettings.fromEnvironment()
        } catch {
            StandardError.write("planter serve: \(error.description)\n")
            throw ExitStatus.invalid
        }
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let root { settings.root = root }
        if let config { settings.configPath = config }
        if let parallel { settings.parallel = parallel }

        // The root command is synchronous: serve on the concurrency pool and wait here.
        let status = Mutex<Int32>(1)
        let done = DispatchSemaphore(value: 0)
        let chosen = settings
        PlanterServer.runConcurrencyOnEventLoops()
        Task {
            let code = await PlanterServer.serve(chosen)
            status.withLock { $0 = code }
            done.signal()
        }
        done.wait()
        let code = status.withLock { $0 }
        if code != 0 { throw ExitCode(code) }
    }
}
