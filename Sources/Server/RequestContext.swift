import Hummingbird
import Logging

/// Per-request context: the logger Hummingbird gives each request and the route the
/// dispatcher matched. A plain value: building it allocates nothing.
public struct PlanterRequestContext: InitializableFromSource, Sendable {
    public var logger: Logger
    /// Set by the dispatcher before the middleware chain runs.
    var route: RouteMatch = .notFound

    public init(source: ApplicationRequestContextSource) {
        logger = source.logger
    }
}
