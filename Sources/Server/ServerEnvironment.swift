import Logging
import PlanterHost

/// What the route handlers share: the service, settings, metrics, the start time, the
/// shutdown trigger, the OpenAPI document and the request id source. Immutable; built once at start-up.
final class ServerEnvironment: Sendable {
    let service: PlanterService
    let eventLog: EventLog
    let settings: ServerSettings
    let metrics: ServerMetrics
    let shutdown: ShutdownTrigger
    let openAPI: OpenAPIDocument
    let logger: Logger
    let startedAt = ContinuousClock.now
    let requestIDs = RequestIDs()

    init(service: PlanterService, eventLog: EventLog, settings: ServerSettings, metrics: ServerMetrics, shutdown: ShutdownTrigger,
         openAPI: OpenAPIDocument, logger: Logger) {
        self.service = service
        self.eventLog = eventLog
        self.settings = settings
        self.metrics = metrics
        self.shutdown = shutdown
        self.openAPI = openAPI
        self.logger = logger
    }
}
