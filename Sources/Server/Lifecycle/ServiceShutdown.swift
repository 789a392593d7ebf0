import Logging
import PlanterHost
import ServiceLifecycle

/// Owns the namespaces' end: waits for graceful shutdown (SIGTERM, SIGINT, POST /STOP), then
/// every namespace stops accepting plans, lets its running plan finish within the grace period
/// (then cancels it) and saves its state, side by side; the shared executors close last. It
/// sits after the HTTP server in the group, so it runs first while the server still answers
/// (503 for new plans) and waiting requests complete.
struct ServiceShutdown: Service {
    let namespaces: Namespaces
    /// Begun first: requests waiting for a run to start answer now, as none will start.
    let notice: ShutdownNotice
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            logger.warning("cancelled without a graceful shutdown; saving state now")
        }
        notice.begin()
        for (name, service) in await namespaces.all {
            let active = await service.activeRunId
            logger.notice("shutting down: no new plans",
                          metadata: ["namespace": "\(name)"].merging(active.map { ["waitingForRun": "\($0)"] } ?? [:]) { a, _ in a })
        }
        let failures = await namespaces.shutdown()
        for (name, service, error) in failures {
            let stateFile = await service.stateFile
            logger.error("the state could not be saved", metadata: ["namespace": "\(name)", "path": "\(stateFile.path)", "reason": "\(error)"])
        }
        for (name, service) in await namespaces.all where !failures.contains(where: { $0.name == name }) {
            let stateFile = await service.stateFile
            logger.notice("state saved", metadata: ["namespace": "\(name)", "path": "\(stateFile.path)"])
        }
    }
}
