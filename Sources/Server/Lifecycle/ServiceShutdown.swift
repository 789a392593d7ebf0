import Logging
import PlanterHost
import ServiceLifecycle

/// Owns the PlanterService's end: waits for graceful shutdown (SIGTERM, SIGINT, POST /STOP),
/// then stops accepting plans, lets the running plan finish within the grace period (then
/// cancels it) and saves the state. It sits after the HTTP server in the group, so it runs
/// first while the server still answers (503 for new plans) and waiting requests complete.
struct ServiceShutdown: Service {
    let service: PlanterService
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            logger.warning("cancelled without a graceful shutdown; saving state now")
        }
        let active = await service.activeRunId
        logger.notice("shutting down: no new plans", metadata: active.map { ["waitingForRun": "\($0)"] } ?? [:])
        let saveError = await service.shutdown()
        let stateFile = await service.stateFile
        if let saveError {
            logger.error("the state could not be saved", metadata: ["path": "\(stateFile.path)", "reason": "\(saveError)"])
        } else {
            logger.notice("state saved", metadata: ["path": "\(stateFile.path)"])
        }
    }
}
