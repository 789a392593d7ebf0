import PlanterCore
import PlanterHost
import PlanterJSON

/// The session messages' JSON, as PROTOCOL.md shapes them (camelCase; status words
/// `running` | `complete` | `failed`). Planter adds fields the protocol leaves open
/// (`runId`, `attempt`, `planterStatus`), never renames the protocol's.
enum SessionMessages {
    /// `.state`: one phase's transition.
    static func state(phaseId: String, status: String, planterStatus: String, runId: String, attempt: Int?, time: Timestamp,
                      message: String? = nil) -> [UInt8] {
        var writer = JSONWriter(capacity: 160)
        writer.beginObject()
        writer.field("phaseId", phaseId)
        writer.field("status", status)
        writer.field("updated", time.iso8601)
        writer.field("planterStatus", planterStatus)
        writer.field("runId", runId)
        if let attempt { writer.field("attempt", attempt) }
        if let message, !message.isEmpty { writer.field("message", message) }
        writer.endObject()
        return writer.bytes
    }

    /// `.log`: a line of output or a log line (`phaseId` left out when there is none).
    static func log(phaseId: String?, level: LogLevel, message: String, time: Timestamp, stream: String? = nil) -> [UInt8] {
        var writer = JSONWriter(capacity: 96 + message.utf8.count)
        writer.beginObject()
        if let phaseId { writer.field("phaseId", phaseId) }
        writer.field("level", level.name)
        writer.field("message", message)
        writer.field("timestamp", time.iso8601)
        if let stream { writer.field("stream", stream) }
        writer.endObject()
        return writer.bytes
    }

    /// `.events`: a session's lifecycle (`started`, `paused`, `resumed`, `finished`, `failed`,
    /// `cancelled`, and `queued`, `dryRun`, `invalid`, `rejected` for a `.start` that ran nothing yet).
    static func event(_ name: String, sessionId: String, runId: String?, time: Timestamp = .now(), message: String? = nil,
                      extra: JSONObject = JSONObject()) -> [UInt8] {
        var object = JSONObject()
        object.appendUnchecked("event", .string(name))
        object.appendUnchecked("sessionId", .string(sessionId))
        object.appendUnchecked("runId", runId.map(JSON.string) ?? .null)
        object.appendUnchecked("timestamp", .string(time.iso8601))
        if let message { object.appendUnchecked("message", .string(message)) }
        for member in extra { object[member.key] = member.value }
        return encode(.object(object))
    }

    /// `.start`: `{"manifest": [...], "dryRun": false}`, plus the run and plan ids.
    static func start(manifest: JSON?, dryRun: Bool, runId: String, planId: String, omitted: String? = nil) -> [UInt8] {
        var object = JSONObject()
        object.appendUnchecked("manifest", manifest ?? .null)
        object.appendUnchecked("dryRun", .bool(dryRun))
        object.appendUnchecked("runId", .string(runId))
        object.appendUnchecked("planId", .string(planId))
        if let omitted { object.appendUnchecked("manifestOmitted", .string(omitted)) }
        return encode(.object(object))
    }

    static func encode(_ json: JSON) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.write(json)
        return writer.bytes
    }

    /// A reply to a request (`.get_state`, `.diff`, `.control`): the answer, or `{"error": …}`.
    static func failure(_ message: String, problems: [Problem] = []) -> [UInt8] {
        var object: JSONObject = ["error": .string(message)]
        if !problems.isEmpty { object["problems"] = problemsJSON(problems) }
        return encode(.object(object))
    }

    static func problemsJSON(_ problems: [Problem]) -> JSON {
        .array(problems.prefix(1000).map { ["path": .string($0.path), "message": .string($0.message), "severity": .string($0.severity.rawValue)] })
    }

    // MARK: Reading

    struct Start {
        var manifest: JSON
        var dryRun: Bool
    }

    /// A message read, or what is wrong with it.
    enum Read<Value> {
        case value(Value)
        case problems([Problem])
    }

    /// `.start`'s body: an object with `manifest` (an array of phases, or a document POST /plan
    /// takes) and an optional boolean `dryRun`. Problems name their JSON pointer.
    static func readStart(_ data: [UInt8]) -> Read<Start> {
        let json: JSON
        do { json = try JSONParser.parse(data) } catch { return .problems([.error("", "the .start message is not JSON: \(error)")]) }
        guard case .object(let object) = json else {
            return .problems([.error("", "a .start message is an object: {\"manifest\": [...], \"dryRun\": false}")])
        }
        guard let manifest = object["manifest"], manifest != .null else {
            return .problems([.error("/manifest", "a .start message needs a manifest (the plan's phases)")])
        }
        var dryRun = false
        switch object["dryRun"] {
        case nil, .null?: break
        case .bool(let value)?: dryRun = value
        default: return .problems([.error("/dryRun", "dryRun is true or false")])
        }
        return .value(Start(manifest: manifest, dryRun: dryRun))
    }

    enum Command: String { case pause, resume, cancel }

    /// `.control`'s body: `{"command": "pause" | "resume" | "cancel"}`.
    static func readControl(_ data: [UInt8]) -> Read<Command> {
        guard let json = try? JSONParser.parse(data), case .object(let object) = json else {
            return .problems([.error("", "a .control message is {\"command\": \"pause\" | \"resume\" | \"cancel\"}")])
        }
        guard let word = object["command"]?.stringValue, let command = Command(rawValue: word) else {
            return .problems([.error("/command", "command is one of pause, resume, cancel")])
        }
        return .value(command)
    }
}
