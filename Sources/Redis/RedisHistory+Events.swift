import PlanterStore

/// GET /logs from Redis: a run's events are one stream (`GET /logs?runId=` is XRANGE or
/// XREVRANGE over it), the others come from the namespace's capped stream. Both give an event
/// the same id, `0-<event number>`, so the number is the paging cursor whichever stream a page
/// came from. Filters the streams cannot apply (phase, level, time) are applied while reading,
/// at most `scanLimit` entries per page.
extension RedisHistory {
    public func events(_ query: EventQuery) async throws -> Page<EventRow> {
        let keys = keys
        return try await reader.perform { connection throws(RedisError) in
            var runIds = query.runIds
            if runIds == nil, let planId = query.planId {
                // The plan's newest runs (retention keeps them few).
                let members = try connection.command(RedisCommand("ZREVRANGE", keys.planRuns(planId), 0, 9_999)).checked("ZREVRANGE")
                runIds = (members.array ?? []).compactMap(\.text)
            }
            let streams = runIds.map { $0.map(keys.runEvents) } ?? [keys.events]
            let want = max(0, min(query.page.limit, 100_000)) + 1
            var found: [EventRow] = []
            for stream in streams { found += try Self.scan(connection, stream, query, want: want) }
            let forward = query.page.after != nil
            found.sort { forward ? $0.seq < $1.seq : $0.seq > $1.seq }
            let more = found.count >= want
            var rows = found.prefix(want - 1).map { (seq: $0.seq, row: $0) }
            if !forward { rows.reverse() }
            return Page(rows: rows, more: more)
        }
    }

    /// Up to `want` events of one stream that pass the query's filters, in the paging direction.
    static func scan(_ connection: RedisConnection, _ key: [UInt8], _ query: EventQuery, want: Int) throws(RedisError) -> [EventRow] {
        let forward = query.page.after != nil
        var low = query.page.after.map { "(0-\($0)" } ?? "-"
        var high = query.page.before.map { "(0-\($0)" } ?? "+"
        let chunk = min(max(want * 2, 256), 10_000)
        var rows: [EventRow] = []
        var scanned = 0
        while rows.count < want, scanned < scanLimit {
            let command = forward ? RedisCommand("XRANGE", key, low, high, "COUNT", chunk)
                : RedisCommand("XREVRANGE", key, high, low, "COUNT", chunk)
            let entries = try connection.command(command).checked(forward ? "XRANGE" : "XREVRANGE").array ?? []
            for entry in entries {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].text else { continue }
                if forward { low = "(" + id } else { high = "(" + id }
                guard let row = event(id: id, parts[1].array ?? []), matches(row, query) else { continue }
                rows.append(row)
                if rows.count == want { break }
            }
            scanned += entries.count
            if entries.count < chunk { break }
        }
        return rows
    }

    static func event(id: String, _ fields: [RedisReply]) -> EventRow? {
        guard let dash = id.firstIndex(of: "-"), let seq = Int64(id[id.index(after: dash)...]) else { return nil }
        var values: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].text, let value = fields[index + 1].bytes { values[name] = value }
            index += 2
        }
        func text(_ name: String) -> String? { values[name].map { String(decoding: $0, as: UTF8.self) } }
        guard let time = text("t").flatMap({ Int64($0) }), let body = values["b"] else { return nil }
        var row = EventRow(time: time, runId: text("r") ?? "", phaseId: text("p"), level: text("l").flatMap { Int64($0) } ?? 0,
                           kind: text("k") ?? "", body: body)
        row.seq = seq
        return row
    }

    static func matches(_ row: EventRow, _ query: EventQuery) -> Bool {
        if let phase = query.phaseId, row.phaseId != phase { return false }
        if let level = query.minimumLevel, row.level < level { return false }
        if let since = query.since, row.time < since { return false }
        return true
    }
}
