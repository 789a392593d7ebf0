import Hummingbird
import Logging
import PlanterDeployment

/// Per-request context: the logger Hummingbird gives each request, the route the dispatcher
/// matched, the namespace the path names and who is calling. A plain value: building it
/// allocates nothing.
public struct PlanterRequestContext: InitializableFromSource, Sendable {
    public var logger: Logger
    /// Set by the dispatcher before the middleware chain runs.
    var route: RouteMatch = .notFound
    /// `/namespaces/<name>/…`, or `default` for the root routes.
    var namespace = NamespaceName.default
    /// Why the path's namespace name is invalid (the request is a 400).
    var namespaceProblem: String?
    /// The name of the caller's token (`anonymous` without access control), recorded in the runs it starts.
    var caller = "anonymous"
    /// The caller's token grant (nil without access control).
    var grant: TokenGrant?

    public init(source: ApplicationRequestContextSource) {
        logger = source.logger
    }
}
