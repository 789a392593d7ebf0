import ArgumentParser
import PlanterCommands
import PlanterCore
import PlanterJSON
import PlanterServer

/// `planter cancel [RUN]`: POST /runs/:id/cancel, by default for the run in progress.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run of a running Planter (default: the run in progress), or drop a queued plan by its plan id."
    )

    @Argument(help: "The run id (or a queued plan's id); default: the run in progress.")
    var runId: String?

    @OptionGroup var client: ClientOptions

    func run() throws {
        let named = runId
        try client.show("cancel", { client throws(ExitCode) in
            var runId = named
            if runId == nil { runId = try await client.send(.GET, "/status")["activeRunId"]?.stringValue }
            guard let runId else { throw client.fail(.notFound, "no run is in progress in namespace \(client.endpoint.namespaceName)") }
            return try await client.send(.POST, "/runs/" + Endpoint.escape(runId) + "/cancel")
        }, text: { answer, _ in
            if let planId = answer["planId"]?.stringValue, answer["dequeued"]?.boolValue == true { return "plan \(planId) taken off the queue\n" }
            return "run \(answer["runId"]?.stringValue ?? "?"): cancelling\n"
        })
    }
}

/// `planter stop`: POST /STOP (an admin token of every namespace).
struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a running Planter: it saves its state, lets running plans finish within its grace period, and exits."
    )

    @OptionGroup var client: ClientOptions

    func run() throws {
        try client.show("stop", { client throws(ExitCode) in
            try await client.send(.POST, "/STOP", serverRoute: true)
        }, text: { _, endpoint in "Planter at \(endpoint.server) is stopping\n" })
    }
}

/// `planter reload`: POST /RELOAD, the namespace's state read again from its file.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make a running Planter read its state file again (as SIGHUP does), for one namespace."
    )

    @OptionGroup var client: ClientOptions

    func run() throws {
        try client.show("reload", { client throws(ExitCode) in try await client.send(.POST, "/RELOAD") }, text: { answer, endpoint in
            answer["status"]?.stringValue == "no_state"
                ? "namespace \(endpoint.namespaceName): no state file, nothing reloaded\n"
                : "namespace \(endpoint.namespaceName): state reloaded, plan \(answer["planId"]?.stringValue ?? "none")\n"
        })
    }
}

/// `planter health`: GET /health; exit 0 when it answers ok. Docker's HEALTHCHECK, with no curl in the image.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when a Planter's /health answers ok (1 when it answers otherwise, 3 when it cannot be reached).",
        discussion: "For a container's HEALTHCHECK: HEALTHCHECK CMD [\"planter\", \"health\"]. Needs no token."
    )

    @Option(name: .long, help: ArgumentHelp("The health URL (default: <server>/health; with neither --server nor $PLANTER_SERVER, "
        + "the server's own $PORT and $PLANTER_PREFIX on 127.0.0.1, so a container's HEALTHCHECK needs no argument)."))
    var url: String?

    @Option(name: .long, help: "Seconds to wait for the answer (default 5).")
    var timeout = 5

    @OptionGroup var client: ClientOptions

    mutating func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 3600 seconds, got \(timeout)") }
    }

    func run() throws {
        let endpoint = try client.endpoint(command: "health")
        let format = client.output
        let target = url ?? (client.namesServer ? endpoint.url("/health", serverRoute: true) : Self.localURL())
        let seconds = Int64(timeout)
        let healthy = try PlanterClient.session(endpoint, format: format) { client throws(ExitCode) -> Bool in
            let answer = try await client.send(.GET, url: target, timeout: seconds)
            let ok = answer["status"]?.stringValue == "ok"
            if format != .text {
                StructuredOutput.write(answer, format)
            } else if ok {
                StandardOutput.write("ok: Planter \(answer["version"]?.stringValue ?? "?") at \(target), up "
                    + "\(answer["uptimeSeconds"]?.intValue ?? 0)s\n")
            } else {
                StandardError.write("planter health: \(target) answered status \(answer["status"]?.serialized ?? "none")\n")
            }
            return ok
        }
        if !healthy { throw ExitStatus.failed }
    }

    /// `http://127.0.0.1:<PORT><PLANTER_PREFIX>/health`, read as `planter serve` reads them (3030 and no
    /// prefix when they are unset, or wrong: then the server did not start either).
    static func localURL() -> String {
        let settings = (try? ServerSettings.fromEnvironment()) ?? ServerSettings()
        let port = settings.port == 0 ? 3030 : settings.port
        return "http://127.0.0.1:\(port)\(settings.prefix)/health"
    }
}
