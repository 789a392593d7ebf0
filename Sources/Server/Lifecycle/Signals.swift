import Logging
import PlanterHost
import ServiceLifecycle
import UnixSignals

/// SIGHUP reloads every namespace's state from its state file (refused for a namespace while
/// one of its runs is in progress). SIGTERM and SIGINT are the ServiceGroup's graceful shutdown signals.
struct ReloadOnHangup: Service {
    let namespaces: Namespaces
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            for (name, service) in await namespaces.all {
                do {
                    let answer = try await service.reload()
                    logger.notice("SIGHUP: state reloaded", metadata: ["namespace": "\(name)", "planId": "\(answer["planId"]?.stringValue ?? "none")",
                                                                       "phases": "\(answer["phases"]?.intValue ?? 0)"])
                } catch {
                    logger.warning("SIGHUP: reload refused", metadata: ["namespace": "\(name)", "reason": "\(error)"])
                }
            }
        }
    }
}
