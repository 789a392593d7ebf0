import Logging
import ServiceLifecycle

/// A handle to the running ServiceGroup, so POST /STOP shuts down exactly as SIGTERM does.
actor ShutdownTrigger {
    private var group: ServiceGroup?
    private var requested = false
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func attach(_ group: ServiceGroup) async {
        self.group = group
        if requested { await group.triggerGracefulShutdown() }
    }

    func trigger(reason: String) async {
        guard !requested else { return }
        requested = true
        logger.notice("graceful shutdown requested", metadata: ["reason": "\(reason)"])
        await group?.triggerGracefulShutdown()
    }
}
