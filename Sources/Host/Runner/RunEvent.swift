import PlanterCore
import PlanterJSON

/// One state change of a run, as JSON lines, logs and (later) the API show it.
public struct RunEvent: Sendable {
    public enum Kind: String, Sendable {
        case runStarted
        case attemptStarted
        case output
        case log
        case attemptFinished
        case retryScheduled
        case phaseFinished
        case phaseSkipped
        case handlerMessage
        case notify
        case runFinished
    }

    public var time: Timestamp
    public var runId: String
    public var phaseId: String?
    public var attempt: Int?
    public var kind: Kind
    public var level: LogLevel
    public var message: String
    /// Kind-specific fields (status, exitCode, delayMs, stream, targets…).
    public var details: JSONObject

    public init(time: Timestamp = .now(), runId: String, phaseId: String? = nil, attempt: Int? = nil, kind: Kind,
                level: LogLevel = .info, message: String = "", details: JSONObject = JSONObject()) {
        self.time = time
        self.runId = runId
        self.phaseId = phaseId
        self.attempt = attempt
        self.kind = kind
        self.level = level
        self.message = message
        self.details = details
    }

    /// `{"time":…,"runId":…,"phaseId":…,"attempt":…,"type":…,"level":…,"message":…,"details":{…}}`
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("time", time.iso8601)
        writer.field("runId", runId)
        if let phaseId { writer.field("phaseId", phaseId) }
        if let attempt { writer.field("attempt", attempt) }
        writer.field("type", kind.rawValue)
        writer.field("level", level.name)
        if !message.isEmpty { writer.field("message", message) }
        if !details.isEmpty { writer.field("details", .object(details)) }
        writer.endObject()
    }

    public var json: JSON {
        var writer = JSONWriter()
        write(to: &writer)
        return (try? JSONParser.parse(writer.bytes)) ?? .null
    }
}

/// Receives a run's events. Called from the runner's threads in event order for state
/// changes; `output` events come straight from executor threads. Must be quick and
/// thread-safe: buffer, do not block.
public protocol EventSink: Sendable {
    func receive(_ event: RunEvent)
}
