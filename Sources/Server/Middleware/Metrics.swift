import Hummingbird

/// Counts every answer by route pattern, method and status, in lock-free slots
/// (`RequestCounters`); the Prometheus counters catch up when /metrics is read.
struct MetricsMiddleware: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = PlanterRequestContext

    let counters: RequestCounters

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            counters.record(pattern: context.route.patternIndex, method: request.method, status: Int(response.status.code))
            return response
        } catch {
            counters.record(pattern: context.route.patternIndex, method: request.method, status: 500)
            throw error
        }
    }
}
