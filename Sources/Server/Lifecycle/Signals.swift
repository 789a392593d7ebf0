import Logging
import PlanterHost
import ServiceLifecycle
import UnixSignals

/// SIGHUP reloads the state from the state file (refused while a run is in progress).
/// SIGTERM and SIGINT are the ServiceGroup's graceful shutdown signals.
struct ReloadOnHangup: Service {
    let service: PlanterService
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                let answer = try await service.reload()
                logger.notice("SIGHUP: state reloaded", metadata: ["planId": "\(answer["planId"]?.stringValue ?? "none")",
                                                                   "phases": "\(answer["phases"]?.intValue ?? 0)"])
            } catch {
                logger.warning("SIGHUP: reload refused", metadata: ["reason": "\(error.description)"])
            }
        }
    }
}
