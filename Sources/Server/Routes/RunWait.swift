import PlanterHost
import PlanterJSON
import PlanterStore

/// `GET /runs?waitAfter=<runId>&timeout=<s>`: a long poll for the next run. The answer is the
/// one GET /runs gives, held back while the newest run (of `planId`, when given) is still
/// `waitAfter` (empty: while there is no run at all): it comes once a newer run has started,
/// after `timeout` seconds, or as soon as the server begins to shut down (no run starts then).
/// A long poll rather than a stream: every answer ends, so a closed browser tab leaves nothing
/// waiting beyond its timeout, proxies see ordinary requests, and the answer is the run list
/// a page shows anyway.
enum RunWait {
    static let defaultTimeout = 30
    /// Beyond this, proxies and browsers give up on an idle request anyway.
    static let maximumTimeout = 300

    struct Request {
        var known: String
        var timeout: Duration
    }

    /// Nil without `waitAfter`; `timeout` alone is read (a bad one is a 400) but waits for nothing.
    static func parse(_ query: Query) throws(APIError) -> Request? {
        let known = try query.runId("waitAfter", allowsEmpty: true)
        let seconds = try query.int("timeout", in: 0...maximumTimeout) ?? defaultTimeout
        return known.map { Request(known: $0, timeout: .seconds(seconds)) }
    }

    /// Returns when the answer may be given (the request's own cancellation ends it too).
    static func wait(_ request: Request, planId: String?, service: PlanterService, notice: ShutdownNotice) async throws(APIError) {
        // Subscribed before the newest run is read, so that a run starting in between is seen.
        let starts = await service.eventLog.subscribe(EventFilter(kinds: [.runStarted]))
        guard try await newest(service, planId: planId) == request.known, !notice.hasBegun else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in starts {
                    // A run of another plan wakes the wait but does not end it.
                    if (try? await newest(service, planId: planId)) != request.known { return }
                }
            }
            group.addTask { try? await Task.sleep(for: request.timeout) }
            group.addTask { await notice.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// The newest run's id ("" when there is none), as GET /runs lists it first.
    static func newest(_ service: PlanterService, planId: String?) async throws(APIError) -> String {
        let answer: JSON
        do { answer = try await service.runsAnswer(PageRequest(limit: 1), planId: planId) } catch { throw APIError(error) }
        return answer["runs"]?.arrayValue?.first?["runId"]?.stringValue ?? ""
    }
}
