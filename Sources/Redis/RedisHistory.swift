import PlanterCore
import PlanterJSON
import PlanterStore

/// The history of one namespace in Redis: the store of record when REDIS_URL is set, shared by
/// every Planter pointed at the same Redis. Writes go through RedisHistoryWriter (its thread,
/// batched, buffered while Redis is away); reads through a RedisClient (another thread and
/// connection, so a long read never waits behind a batch of writes).
public final class RedisHistory: HistoryReplica, @unchecked Sendable {
    public let keys: RedisKeys
    public let url: RedisURL
    let reader: RedisClient
    let writer: RedisHistoryWriter
    /// The namespace stream keeps about this many events (XADD MAXLEN ~).
    public static let namespaceEventCap = 100_000
    /// A read scans at most this many stream entries for one page (filters that match little).
    static let scanLimit = 200_000

    public init(url: RedisURL, namespace: String, writerId: String) {
        self.url = url
        keys = RedisKeys(namespace: namespace)
        reader = RedisClient(url: url, name: "planter-redis-reads", connectTimeout: .seconds(1), commandTimeout: .seconds(10))
        writer = RedisHistoryWriter(url: url, keys: keys, writerId: writerId, eventCap: Self.namespaceEventCap)
    }

    public var location: String { "\(url) keys \(keys.prefix)*" }

    public func enqueue(_ write: HistoryWrite) { writer.enqueue(.history(write)) }

    public func saveState(_ document: [UInt8], owner: String) { writer.enqueue(.state(document, owner: owner)) }

    public var stateIsWritten: Bool { writer.stateIsWritten }

    public func loadState() async throws -> (document: [UInt8], owner: String)? {
        let replies = try await reader.pipeline([RedisCommand("GET", keys.state), RedisCommand("GET", keys.stateOwner)])
        guard replies.count == 2, let document = try replies[0].checked("GET").bytes, let owner = try replies[1].checked("GET").text
        else { return nil }
        return (document, owner)
    }

    public var problem: String? { writer.problem }

    /// Waits until the writes queued before the call are in Redis, at most 5 s, and not at all
    /// while Redis is unreachable (the answer then comes from the embedded store).
    public func flush() async {
        let target = writer.lastQueued
        let deadline = ContinuousClock.now + .seconds(5)
        while writer.lastWritten < target, writer.isUp, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    public func close() async {
        writer.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while !writer.isFinished, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        reader.close()
    }

    /// Redis's `maxmemory-policy`, when it may evict the history's keys (anything but noeviction).
    public func evictionWarning() async -> String? {
        do {
            let reply = try await reader.command(RedisCommand("CONFIG", "GET", "maxmemory-policy")).checked("CONFIG GET")
            guard let policy = reply.array?.last?.text else { return nil }
            guard policy != "noeviction" else { return nil }
            return "Redis at \(url) has maxmemory-policy \(policy): under memory pressure it may evict history keys "
                + "(runs, events, the lease); set maxmemory-policy noeviction"
        } catch {
            return "cannot read Redis's maxmemory-policy (\(error)); make sure it is noeviction"
        }
    }

    /// Whether a PING answers now.
    public func ping() async -> String? {
        do {
            _ = try await reader.command(RedisCommand("PING")).checked("PING")
            return nil
        } catch {
            return error.description
        }
    }

    // MARK: Reads

    /// Members of a ZSET paged by score (the sequence numbers), ascending in the page.
    static func page(_ connection: RedisConnection, _ key: [UInt8], _ request: PageRequest) throws(RedisError) -> Page<String> {
        let count = max(0, min(request.limit, 100_000)) + 1
        let command: RedisCommand
        if let after = request.after {
            let upper = request.before.map { "(\($0)" } ?? "+inf"
            command = RedisCommand("ZRANGEBYSCORE", key, "(\(after)", upper, "WITHSCORES", "LIMIT", 0, count)
        } else {
            command = RedisCommand("ZREVRANGEBYSCORE", key, request.before.map { "(\($0)" } ?? "+inf", "-inf", "WITHSCORES", "LIMIT", 0, count)
        }
        let flat = try connection.command(command).checked("ZRANGEBYSCORE").array ?? []
        var rows: [(seq: Int64, row: String)] = []
        var index = 0
        while index + 1 < flat.count {
            if let member = flat[index].text, let score = flat[index + 1].text.flatMap(Double.init), let seq = Int64(exactly: score.rounded()) {
                rows.append((seq, member))
            }
            index += 2
        }
        let more = rows.count >= count
        if more { rows.removeLast() }
        if request.after == nil { rows.reverse() }
        return Page(rows: rows, more: more)
    }

    public func runs(planId: String?, _ request: PageRequest) async throws -> Page<[UInt8]> {
        let keys = keys
        return try await reader.perform { connection throws(RedisError) in
            let ids = try Self.page(connection, planId.map(keys.planRuns) ?? keys.runs, request)
            let replies = try connection.pipeline(ids.rows.map { RedisCommand("HGET", keys.run($0.row), "summary") })
            var rows: [(seq: Int64, row: [UInt8])] = []
            for (id, reply) in zip(ids.rows, replies) { if let bytes = reply.bytes { rows.append((id.seq, bytes)) } }
            return Page(rows: rows, more: ids.more)
        }
    }

    public func run(_ runId: String) async throws -> [UInt8]? {
        let key = keys.run(runId)
        return try await reader.command(RedisCommand("HGET", key, "result")).checked("HGET").bytes
    }

    public func plans(_ request: PageRequest) async throws -> Page<PlanSummary> {
        let keys = keys
        return try await reader.perform { connection throws(RedisError) in
            let ids = try Self.page(connection, keys.plans, request)
            let replies = try connection.pipeline(ids.rows.map { RedisCommand("HMGET", keys.plan($0.row), "submittedAt", "phaseCount") })
            var rows: [(seq: Int64, row: PlanSummary)] = []
            for (id, reply) in zip(ids.rows, replies) {
                guard let fields = reply.array, fields.count == 2, let submitted = fields[0].integer, let count = fields[1].integer
                else { continue }
                rows.append((id.seq, PlanSummary(planId: id.row, submittedAt: submitted, phaseCount: count)))
            }
            return Page(rows: rows, more: ids.more)
        }
    }

    public func plan(_ planId: String) async throws -> PlanRow? {
        let reply = try await reader.command(RedisCommand("HMGET", keys.plan(planId), "submittedAt", "phaseCount", "manifest"))
            .checked("HMGET")
        guard let fields = reply.array, fields.count == 3, let submitted = fields[0].integer, let count = fields[1].integer,
            let manifest = fields[2].bytes
        else { return nil }
        return PlanRow(planId: planId, submittedAt: submitted, phaseCount: count, manifest: manifest)
    }

    public func progress(ofRun runId: String) async throws -> (attempts: [AttemptRow], results: [PhaseResultRow]) {
        let key = keys.runPhases(runId)
        let flat = try await reader.command(RedisCommand("HGETALL", key)).checked("HGETALL").array ?? []
        var attempts: [AttemptRow] = []
        var results: [PhaseResultRow] = []
        var index = 0
        while index + 1 < flat.count {
            defer { index += 2 }
            guard let field = flat[index].text, let value = flat[index + 1].bytes else { continue }
            if field.hasPrefix("r:") {
                if let row = RedisHistoryScript.result(value, runId: runId, phaseId: String(field.dropFirst(2))) { results.append(row) }
            } else if field.hasPrefix("a:"), let hash = field.lastIndex(of: "#"), let number = Int64(field[field.index(after: hash)...]) {
                let phase = String(field[field.index(field.startIndex, offsetBy: 2)..<hash])
                if let row = RedisHistoryScript.attempt(value, runId: runId, phaseId: phase, number: number) { attempts.append(row) }
            }
        }
        return (attempts, results)
    }

    public func phaseHistory(_ phaseId: String, _ request: PageRequest) async throws -> Page<PhaseHistoryEntry> {
        let keys = keys
        return try await reader.perform { connection throws(RedisError) in
            let ids = try Self.page(connection, keys.phaseRuns(phaseId), request)
            let heads = try connection.pipeline(ids.rows.map { RedisCommand("HMGET", keys.runPhases($0.row), "r:" + phaseId, "n:" + phaseId) })
            var rows: [(seq: Int64, row: PhaseHistoryEntry)] = []
            for (id, head) in zip(ids.rows, heads) {
                let fields = head.array ?? []
                let result = fields.first?.bytes.flatMap { RedisHistoryScript.result($0, runId: id.row, phaseId: phaseId) }
                let count = min(max(0, fields.count > 1 ? fields[1].integer ?? 0 : 0), 1000)
                var attempts: [AttemptRow] = []
                if count > 0 {
                    var command = RedisCommand("HMGET", keys.runPhases(id.row))
                    for number in 1...count { command.append("a:\(phaseId)#\(number)") }
                    let values = try connection.command(command).checked("HMGET").array ?? []
                    for (offset, value) in values.enumerated() {
                        if let bytes = value.bytes,
                            let row = RedisHistoryScript.attempt(bytes, runId: id.row, phaseId: phaseId, number: Int64(offset + 1)) {
                            attempts.append(row)
                        }
                    }
                }
                rows.append((id.seq, PhaseHistoryEntry(runId: id.row, result: result, attempts: attempts)))
            }
            return Page(rows: rows, more: ids.more)
        }
    }
}

extension RedisHistory {
    /// The namespaces that have a history in Redis (their `schema` key), for a Planter that
    /// shares them without having them on disk: a standby must watch their leases too. At most
    /// 10,000 names, found by SCAN (a single Redis; on a cluster each node holds some).
    public static func namespaces(url: RedisURL) async -> [String] {
        let client = RedisClient(url: url, name: "planter-redis-scan", connectTimeout: .seconds(1), commandTimeout: .seconds(5))
        defer { client.close() }
        let found = try? await client.perform { connection throws(RedisError) -> [String] in
            var cursor = "0"
            var names = Set<String>()
            repeat {
                let reply = try connection.command(RedisCommand("SCAN", cursor, "MATCH", "planter:{*}:schema", "COUNT", 1000))
                    .checked("SCAN")
                guard let parts = reply.array, parts.count == 2, let next = parts[0].text else { break }
                cursor = next
                for key in (parts[1].array ?? []).compactMap(\.text) {
                    guard let open = key.firstIndex(of: "{"), let close = key.firstIndex(of: "}"), open < close else { continue }
                    names.insert(String(key[key.index(after: open)..<close]))
                }
            } while cursor != "0" && names.count < 10_000
            return names.sorted()
        }
        return found ?? []
    }

    /// From now on every write carries `token` and is refused unless it is the namespace's
    /// current fencing token (RedisLease); nil: writes are not fenced.
    public func fence(_ token: Int64?) { writer.setFence(token.map(String.init) ?? "") }
}
