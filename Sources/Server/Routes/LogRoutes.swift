import Hummingbird
import NIOCore
import PlanterCore
import PlanterHost
import PlanterJSON
import PlanterStore

/// GET /logs: events filtered by runId, planId, phaseId, level, since, limit, paged by
/// `before`/`after` (event seq cursors); answered from the history store, so it reads the same
/// after a restart. With follow=true, Server-Sent Events (`data: <event>\n\n`): the backlog,
/// then live events until the followed run (runId, else the run active at the request) has finished.
enum LogRoutes {
    static let defaultLimit = 1000
    /// The event log keeps no more than this many events, so a larger limit means nothing.
    static let maximumLimit = 100_000

    struct LogQuery {
        var filter: EventFilter
        var runId: String?
        var planId: String?
        var follow: Bool
        var page: PageRequest
    }

    static func register(in table: inout RouteTable, _ environment: ServerEnvironment) {
        table.add(.get, "/logs") { request, context in
            let service = try await environment.service(context)
            let eventLog = await service.eventLog
            let parsed = try await parse(Query(request), service: service)
            if parsed.follow {
                return await follow(parsed, service: service, eventLog: eventLog)
            }
            guard let history = service.history else { return memoryAnswer(eventLog.query(parsed.filter)) }
            return try await storedAnswer(parsed, history: history)
        }
    }

    /// `{"count", "more", "cursor": {"before", "after"}, "events": [{"seq", …}]}`, oldest first.
    static func storedAnswer(_ parsed: LogQuery, history: History) async throws(APIError) -> Response {
        var query = EventQuery(runIds: parsed.runId.map { [$0] }, planId: parsed.planId, phaseId: parsed.filter.phaseId,
                               minimumLevel: parsed.filter.minimumLevel.map { Int64($0.rawValue) },
                               since: parsed.filter.since?.nanoseconds, page: parsed.page)
        query.page.limit = parsed.filter.limit ?? defaultLimit
        let page: Page<EventRow>
        do { page = try await history.reads.events(query) } catch {
            throw APIError.unavailable("the history cannot be read: \(error)")
        }
        var writer = JSONWriter(capacity: 256 + page.rows.reduce(0) { $0 + $1.row.body.count + 16 })
        writer.beginObject()
        writer.field("count", page.rows.count)
        writer.field("more", page.more)
        writer.key("cursor")
        writer.beginObject()
        writer.field("before", page.rows.first.map { JSON.int($0.seq) } ?? .null)
        writer.field("after", page.rows.last.map { JSON.int($0.seq) } ?? .null)
        writer.endObject()
        writer.comma()
        writer.key("events")
        writer.bytes.append(UInt8(ascii: "["))
        for (index, entry) in page.rows.enumerated() {
            if index > 0 { writer.comma() }
            // The stored event with its cursor first: `{"seq":N,` + the rest of its object.
            writer.writeRaw("{\"seq\":")
            writer.writeRaw(String(entry.seq))
            writer.comma()
            writer.bytes.append(contentsOf: entry.row.body.dropFirst())
        }
        writer.bytes.append(UInt8(ascii: "]"))
        writer.endObject()
        return Reply.bytes(writer.bytes)
    }

    /// Without a history store (an embedder's server): the in-memory log.
    static func memoryAnswer(_ events: [RunEvent]) -> Response {
        var writer = JSONWriter(capacity: 256 + events.count * 192)
        writer.beginObject()
        writer.field("count", events.count)
        writer.key("events")
        writer.bytes.append(UInt8(ascii: "["))
        for (index, event) in events.enumerated() {
            if index > 0 { writer.comma() }
            event.write(to: &writer)
        }
        writer.bytes.append(UInt8(ascii: "]"))
        writer.endObject()
        return Reply.bytes(writer.bytes)
    }

    static func parse(_ query: Query, service: PlanterService) async throws(APIError) -> LogQuery {
        var filter = EventFilter()
        let runId = query.string("runId")
        let planId = query.string("planId")
        if let runId { filter.runIds = [runId] }
        let follow = try query.bool("follow")
        // The store reads a plan's runs itself; live followers filter in memory.
        if let planId, service.history == nil || follow {
            let ids = await service.runIds(ofPlan: planId)
            filter.runIds = filter.runIds.map { $0.intersection(ids) } ?? ids
        }
        filter.phaseId = query.string("phaseId")
        if let level = try query.choice("level", ["debug", "info", "warning", "warn", "error"]) {
            // `warn` is the one spelling that is not a level's name.
            filter.minimumLevel = LogLevel.allCases.first { $0.name == level } ?? .warning
        }
        filter.since = try query.timestamp("since")
        let page = try query.page(defaultLimit: defaultLimit, maximum: maximumLimit)
        filter.limit = page.limit
        return LogQuery(filter: filter, runId: runId, planId: planId, follow: follow, page: page)
    }

    // MARK: Server-Sent Events

    static let sseHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    static func follow(_ parsed: LogQuery, service: PlanterService, eventLog: EventLog) async -> Response {
        // The run to follow to its end: the one named, else the one running now (in the plan, if named).
        let active = await service.activeRunId
        var target: String?
        if let runId = parsed.runId {
            target = runId == active ? runId : nil
        } else if let active, parsed.filter.runIds?.contains(active) ?? true {
            target = active
        }
        let user = parsed.filter
        guard let target else {
            // Nothing runs that the request follows: the backlog, and the stream ends.
            let backlog = eventLog.query(user)
            return Response(status: .ok, headers: sseHeaders, body: ResponseBody(byteBuffer: sseBuffer(backlog)))
        }
        // Subscribe wider than the user's filter (level and phase filters would hide runFinished).
        var subscription = EventFilter(runIds: user.runIds ?? [target], since: user.since)
        subscription.limit = nil
        let (backlogAll, live) = eventLog.follow(subscription)
        var matching = backlogAll.filter(user.matches)
        if let limit = user.limit, matching.count > limit { matching.removeFirst(matching.count - limit) }
        let backlog = matching
        let finishedInBacklog = backlogAll.contains { $0.kind == .runFinished && $0.runId == target }
        return Response(status: .ok, headers: sseHeaders, body: ResponseBody { writer in
            try await writer.write(sseBuffer(backlog))
            if !finishedInBacklog {
                for await event in live {
                    if user.matches(event) { try await writer.write(sseBuffer([event])) }
                    if event.kind == .runFinished && event.runId == target { break }
                }
            }
            try await writer.finish(nil)
        })
    }

    static func sseBuffer(_ events: [RunEvent]) -> ByteBuffer {
        var writer = JSONWriter(capacity: max(64, events.count * 200))
        for event in events {
            writer.writeRaw("data: ")
            event.write(to: &writer)
            writer.writeRaw("\n\n")
        }
        return ByteBuffer(bytes: writer.bytes)
    }
}
