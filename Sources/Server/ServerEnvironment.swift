import Logging
import PlanterDeployment
import PlanterHost

/// What the route handlers share: the namespaces, settings, metrics, the start time, the
/// shutdown trigger and notice, the OpenAPI document and the request id source. Immutable; built once at start-up.
final class ServerEnvironment: Sendable {
    let namespaces: Namespaces
    /// Nil: no access control.
    let tokens: AccessTokens?
    let settings: ServerSettings
    let metrics: ServerMetrics
    let shutdown: ShutdownTrigger
    /// Set once the graceful shutdown begins (long polls answer then).
    let shutdownNotice = ShutdownNotice()
    let openAPI: OpenAPIDocument
    /// The NATS session interface (nil: no NATS_URL).
    let sessions: SessionBridge?
    let logger: Logger
    let startedAt = ContinuousClock.now
    let requestIDs = RequestIDs()

    init(namespaces: Namespaces, tokens: AccessTokens?, settings: ServerSettings, metrics: ServerMetrics, shutdown: ShutdownTrigger,
         openAPI: OpenAPIDocument, sessions: SessionBridge? = nil, logger: Logger) {
        self.sessions = sessions
        self.namespaces = namespaces
        self.tokens = tokens
        self.settings = settings
        self.metrics = metrics
        self.shutdown = shutdown
        self.openAPI = openAPI
        self.logger = logger
    }

    /// The service of the request's namespace; an unknown namespace is a 404 (only a plan creates one).
    func service(_ context: PlanterRequestContext) async throws(APIError) -> PlanterService {
        if context.namespace == NamespaceName.default { return namespaces.defaultService }
        return try await namespaces.service(context.namespace, create: false)
    }
}
