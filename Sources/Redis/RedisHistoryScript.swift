import PlanterJSON
import PlanterStore

/// The one Lua script every history write goes through (EVALSHA; loaded on each connect).
/// It skips a write this Planter already applied (a batch resent after a lost connection),
/// refuses a write whose fencing token is not the current one (the Planter lost its lease),
/// then applies it: all in one step, so the check and the write cannot be separated.
enum RedisHistoryScript {
    static let layoutVersion = "1"

    static let source = """
        local applied = tonumber(redis.call('GET', KEYS[1]) or '0')
        local number = tonumber(ARGV[1])
        if number <= applied then return 0 end
        if ARGV[2] ~= '' then
          local current = redis.call('GET', KEYS[2])
          if current ~= ARGV[2] then
            return redis.error_reply('FENCED fencing token ' .. ARGV[2] .. ' is not the current one (' .. tostring(current) .. ')')
          end
        end
        redis.call('SET', KEYS[1], number, 'EX', 604800)
        local kind = ARGV[3]
        if kind == 'plan' then
          if redis.call('EXISTS', KEYS[3]) == 0 then
            local seq = redis.call('INCR', KEYS[5])
            redis.call('HSET', KEYS[3], 'seq', seq, 'submittedAt', ARGV[5], 'phaseCount', ARGV[6], 'manifest', ARGV[7])
            redis.call('ZADD', KEYS[4], seq, ARGV[4])
          end
        elseif kind == 'run' then
          local seq = redis.call('HGET', KEYS[3], 'seq')
          if not seq then
            seq = redis.call('INCR', KEYS[5])
            redis.call('ZADD', KEYS[4], seq, ARGV[4])
            redis.call('ZADD', KEYS[6], seq, ARGV[4])
          end
          redis.call('HSET', KEYS[3], 'seq', seq, 'planId', ARGV[5], 'trigger', ARGV[6], 'status', ARGV[7],
                     'startedAt', ARGV[8], 'endedAt', ARGV[9], 'summary', ARGV[10], 'result', ARGV[11])
        elseif kind == 'attempt' then
          redis.call('HSET', KEYS[3], 'a:' .. ARGV[4] .. '#' .. ARGV[5], ARGV[6])
          local count = tonumber(redis.call('HGET', KEYS[3], 'n:' .. ARGV[4]) or '0')
          if tonumber(ARGV[5]) > count then redis.call('HSET', KEYS[3], 'n:' .. ARGV[4], ARGV[5]) end
          redis.call('ZADD', KEYS[4], tonumber(redis.call('HGET', KEYS[5], 'seq') or '0'), ARGV[7])
        elseif kind == 'result' then
          redis.call('HSET', KEYS[3], 'r:' .. ARGV[4], ARGV[5])
          redis.call('ZADD', KEYS[4], tonumber(redis.call('HGET', KEYS[5], 'seq') or '0'), ARGV[6])
        elseif kind == 'state' then
          redis.call('SET', KEYS[3], ARGV[4])
          redis.call('SET', KEYS[4], ARGV[5])
        elseif kind == 'event' then
          local id = '0-' .. redis.call('INCR', KEYS[3])
          local fields = {}
          for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
          if ARGV[5] ~= '' then redis.call('XADD', KEYS[5], id, unpack(fields)) end
          redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], id, unpack(fields))
        end
        return 1
        """

    /// The EVALSHA of write `number` (`fence`: the lease's token, empty without coordination).
    /// What the writer sends: a history record, or the lease holder's state document.
    enum Write: Sendable {
        case history(HistoryWrite)
        case state([UInt8], owner: String)
    }

    static func command(_ item: Write, number: Int64, sha: [UInt8], keys: RedisKeys, writerId: String, fence: String,
                        eventCap: Int) -> RedisCommand {
        var command = RedisCommand("EVALSHA", sha)
        func add(_ keyList: [[UInt8]], _ kind: String, _ arguments: [[UInt8]]) {
            command.append(keyList.count + 2)
            command.arguments += [keys.writer(writerId), keys.fence] + keyList
            command.append(number, fence, kind)
            command.arguments += arguments
        }
        let write: HistoryWrite
        switch item {
        case .state(let document, let owner):
            add([keys.state, keys.stateOwner], "state", [document, owner.redisBytes])
            return command
        case .history(let record):
            write = record
        }
        switch write {
        case .plan(let row):
            add([keys.plan(row.planId), keys.plans, keys.sequence], "plan",
                [row.planId.redisBytes, row.submittedAt.redisBytes, row.phaseCount.redisBytes, row.manifest])
        case .run(let row):
            add([keys.run(row.runId), keys.runs, keys.sequence, keys.planRuns(row.planId)], "run",
                [row.runId.redisBytes, row.planId.redisBytes, row.trigger.redisBytes, row.status.redisBytes,
                 row.startedAt.redisBytes, (row.endedAt.map { String($0) } ?? "").redisBytes, row.summary, row.result])
        case .attempt(let row):
            add([keys.runPhases(row.runId), keys.phaseRuns(row.phaseId), keys.run(row.runId)], "attempt",
                [row.phaseId.redisBytes, row.attempt.redisBytes, encode(row), row.runId.redisBytes])
        case .phaseResult(let row):
            add([keys.runPhases(row.runId), keys.phaseRuns(row.phaseId), keys.run(row.runId)], "result",
                [row.phaseId.redisBytes, encode(row), row.runId.redisBytes])
        case .event(let row):
            var fields: [[UInt8]] = ["t".redisBytes, row.time.redisBytes, "r".redisBytes, row.runId.redisBytes,
                                     "l".redisBytes, row.level.redisBytes, "k".redisBytes, row.kind.redisBytes,
                                     "b".redisBytes, row.body]
            if let phase = row.phaseId { fields += ["p".redisBytes, phase.redisBytes] }
            add([keys.eventSequence, keys.events, keys.runEvents(row.runId)], "event",
                [eventCap.redisBytes, (row.runId.isEmpty ? "" : "1").redisBytes] + fields)
        }
        return command
    }

    // Attempts and outcomes as small JSON objects (times in nanoseconds, as integers).

    static func encode(_ row: AttemptRow) -> [UInt8] {
        var object: JSONObject = ["status": .string(row.status), "startedAt": .int(row.startedAt), "message": .string(row.message)]
        if let ended = row.endedAt { object["endedAt"] = .int(ended) }
        if let code = row.exitCode { object["exitCode"] = .int(code) }
        var writer = JSONWriter(capacity: 128)
        writer.write(.object(object))
        return writer.bytes
    }

    static func encode(_ row: PhaseResultRow) -> [UInt8] {
        let outputs = (try? JSONParser.parse(row.outputs)) ?? .object(JSONObject())
        var writer = JSONWriter(capacity: 128 + row.outputs.count)
        writer.write(["status": .string(row.status), "message": .string(row.message), "endedAt": .int(row.endedAt), "outputs": outputs])
        return writer.bytes
    }

    static func attempt(_ bytes: [UInt8], runId: String, phaseId: String, number: Int64) -> AttemptRow? {
        guard let json = try? JSONParser.parse(bytes), let status = json["status"]?.stringValue,
            case .int(let started) = json["startedAt"] ?? .null
        else { return nil }
        var row = AttemptRow(runId: runId, phaseId: phaseId, attempt: number, status: status, startedAt: started,
                             message: json["message"]?.stringValue ?? "")
        if case .int(let ended) = json["endedAt"] ?? .null { row.endedAt = ended }
        if case .int(let code) = json["exitCode"] ?? .null { row.exitCode = code }
        return row
    }

    static func result(_ bytes: [UInt8], runId: String, phaseId: String) -> PhaseResultRow? {
        guard let json = try? JSONParser.parse(bytes), let status = json["status"]?.stringValue,
            case .int(let ended) = json["endedAt"] ?? .null
        else { return nil }
        var outputs = JSONWriter(capacity: 16)
        outputs.write(json["outputs"] ?? .object(JSONObject()))
        return PhaseResultRow(runId: runId, phaseId: phaseId, status: status, message: json["message"]?.stringValue ?? "",
                              endedAt: ended, outputs: outputs.bytes)
    }
}
