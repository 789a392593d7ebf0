import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterMessaging
import PlanterWorkers

#if canImport(Glibc)
import Glibc
#endif

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve phases of a worker pool over NATS JetStream (no HTTP port, no state of its own).",
        discussion: """
            A planter serve whose deployment has an executor {name: X, remote: {pool: POOL}} sends that executor's \
            phases to POOL; each worker of the pool runs them with the executor named X in its own --config. \
            A worker serves one namespace (--namespace): each namespace has its own work queue, so a worker never \
            takes another namespace's phases. \
            SIGTERM or SIGINT drains: no new phase is taken, running ones may finish within --grace seconds.
            """
    )

    @Option(name: .long, help: "NATS servers (default $NATS_URL), comma-separated nats://host:port.")
    var nats: String?

    @Option(name: .long, help: "The pool to serve.")
    var pool: String

    @Option(name: .long, help: "The namespace whose phases it takes (default $PLANTER_NAMESPACE, else default).")
    var namespace: String?

    @Option(name: .customLong("nats-prefix"), help: "Subject prefix, as the server's (default $PLANTER_NATS_PREFIX, else none).")
    var natsPrefix: String?

    @Option(name: .long, help: "Deployment config with the executors this worker runs (default $PLANTER_CONFIG, else the built-in one).")
    var config: String?

    @Option(name: .long, help: "Worker id (default host-pid); phases see it as PLANTER_WORKER_ID.")
    var id: String?

    @Option(name: .long, help: "Phases at once (default 1).")
    var capacity: Int = 1

    @Option(name: .long, help: "Seconds a running phase may take to finish after SIGTERM (default 30).")
    var grace: Int = 30

    mutating func validate() throws {
        if let problem = Deployment.poolProblem(pool) { throw ValidationError("--pool: \(problem)") }
        if let problem = NamespaceName.problem(Substring(resolvedNamespace)) { throw ValidationError("--namespace: \(problem)") }
        if let problem = WorkSubjects.prefixProblem(resolvedPrefix) { throw ValidationError("--nats-prefix: \(problem)") }
        if !(1...1024).contains(capacity) { throw ValidationError("--capacity must be from 1 to 1024") }
        if !(0...86_400).contains(grace) { throw ValidationError("--grace must be from 0 to 86400 seconds") }
    }

    var resolvedNamespace: String {
        let given = namespace ?? ProcessInfo.processInfo.environment["PLANTER_NAMESPACE"] ?? ""
        return given.isEmpty ? NamespaceName.default : given
    }

    var resolvedPrefix: String { natsPrefix ?? ProcessInfo.processInfo.environment["PLANTER_NATS_PREFIX"] ?? "" }

    func run() throws {
        guard let url = nats ?? ProcessInfo.processInfo.environment["NATS_URL"], !url.isEmpty else {
            StandardError.write("planter worker: no NATS server: give --nats nats://host:4222 or set NATS_URL\n")
            throw ExitStatus.invalid
        }
        let servers: [String]
        switch NATSSettings.parseServers(url) {
        case .success(let parsed): servers = parsed
        case .failure(let error):
            StandardError.write("planter worker: --nats: \(error.text)\n")
            throw ExitStatus.invalid
        }
        let setup: DeploymentSetup
        switch DeploymentSetup.prepare(configPath: config) {
        case .success(let prepared): setup = prepared
        case .failure(let failure):
            StandardError.write("planter worker: the deployment config is invalid:\n" + failure.problems.map { "  \($0)\n" }.joined())
            throw ExitStatus.invalid
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let workerId = id ?? "\(String(cString: host))-\(getpid())"
        let options = WorkerProgram.Options(nats: NATSSettings(servers: servers, credentialsFile: ProcessInfo.processInfo.environment["NATS_CREDS"],
                                                               name: "planter worker"),
                                            subjects: WorkSubjects(prefix: resolvedPrefix, namespace: resolvedNamespace), pool: pool, id: workerId, capacity: capacity, grace: .seconds(grace))
        let log: @Sendable (String) -> Void = { line in StandardError.write("planter worker \(workerId): \(line)\n") }
        let program: WorkerProgram
        do {
            program = try WorkerProgram(options: options, setup: setup, log: log)
        } catch {
            StandardError.write("planter worker: \(error)\n")
            throw ExitStatus.invalid
        }
        // SIGTERM/SIGINT drain; the signals are taken on a dispatch source, not a handler.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { log("draining"); program.drain() }
            source.resume()
            sources.append(source)
        }
        log("serving pool \(pool) of namespace \(resolvedNamespace) (capacity \(capacity), executors: \(setup.registry.bindings.map(\.name).joined(separator: ", ")))")
        program.run()
        sources.forEach { $0.cancel() }
        log("stopped")
    }
}
