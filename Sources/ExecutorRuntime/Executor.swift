import PlanterCore
import PlanterJSON
import ProcessSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Something that runs one attempt of one phase. `execute` blocks until the attempt has
/// finished; the runner calls it on its own worker threads, never on an event loop.
public protocol Executor: Sendable {
    func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult
}

/// What an executor receives: the same fields as the ABI's request JSON (see
/// Sources/ExecutorAPI/README.md), as Swift values.
public struct ExecuteRequest: Sendable {
    public var runId: String
    public var phaseId: String
    public var executor: String
    public var description: String
    public var labels: Labels
    public var attempt: Int
    public var maxAttempts: Int
    public var payload: JSON
    public var dryRun: Bool
    public var timeoutMs: Int?
    public var inputs: JSONObject
    public var secrets: [String: String]
    /// The Planter instance's token (nil in `planter run`): plugins tag the processes they
    /// start with it (PLANTER_OWNER), so a restart after a crash can find them.
    public var owner: String?
    /// The phase's `x-scheduleTimeout`: how long it may wait for a remote worker (not sent to plugins).
    public var scheduleTimeoutMs: Int?
    /// The namespace whose run this is (nil: `planter run`): a remote pool's work goes on that
    /// namespace's queue, so workers of another namespace never take it (not sent to plugins).
    public var namespace: String?

    public init(
        runId: String, phaseId: String, executor: String, description: String = "", labels: Labels = Labels(),
        attempt: Int = 1, maxAttempts: Int = 1, payload: JSON = .object(JSONObject()), dryRun: Bool = false,
        timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(), secrets: [String: String] = [:]
    ) {
        self.runId = runId
        self.phaseId = phaseId
        self.executor = executor
        self.description = description
        self.labels = labels
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.payload = payload
        self.dryRun = dryRun
        self.timeoutMs = timeoutMs
        self.inputs = inputs
        self.secrets = secrets
        owner = nil
    }

    /// The request as the ABI's JSON text, written directly (no dictionaries, no Codable).
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + payload.estimatedSize)
        writer.beginObject()
        writer.field("abiVersion", Int(planterABIVersion))
        writer.field("runId", runId)
        writer.field("phaseId", phaseId)
        writer.field("executor", executor)
        writer.field("description", description)
        writer.field("labels", labels.json)
        writer.field("attempt", attempt)
        writer.field("maxAttempts", maxAttempts)
        writer.field("payload", payload)
        writer.field("dryRun", dryRun)
        writer.key("timeoutMs")
        if let timeoutMs { writer.write(integer: Int64(timeoutMs)) } else { writer.writeRaw("null") }
        writer.comma()
        writer.field("inputs", .object(inputs))
        writer.key("secrets")
        writer.beginObject()
        for (name, value) in secrets.sorted(by: { $0.key < $1.key }) { writer.field(name, value) }
        writer.endObject()
        if let owner {
            writer.comma()
            writer.field("owner", owner)
        }
        writer.endObject()
        return writer.bytes
    }
}

/// How an attempt ended, as the executor reports it.
public enum ExecuteStatus: String, Sendable, CaseIterable {
    case succeeded
    case failed
    /// The request or payload is wrong: retrying cannot help, so the runner does not retry.
    case invalid
    case cancelled
}

public struct ExecuteResult: Sendable, Equatable {
    public var status: ExecuteStatus
    public var exitCode: Int?
    public var message: String
    public var outputs: JSONObject
    /// Text for executors that do not stream; appended to the phase's output.
    public var output: String?
    /// The `planter worker` that ran it (remote pools); nil: this process.
    public var worker: String?

    public init(
        status: ExecuteStatus, exitCode: Int? = nil, message: String = "", outputs: JSONObject = JSONObject(),
        output: String? = nil
    ) {
        self.status = status
        self.exitCode = exitCode
        self.message = message
        self.outputs = outputs
        self.output = output
    }

    public static func failed(_ message: String) -> ExecuteResult { ExecuteResult(status: .failed, message: message) }

    /// Reads an executor's result JSON. Anything malformed becomes a failed result that says what was wrong.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, executor: String) -> ExecuteResult {
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            return .failed("executor \(executor) returned a result that is not JSON: \(error)")
        }
        return decode(json, executor: executor)
    }

    /// Reads an executor's result object, already parsed (the subprocess protocol carries it inside a message).
    public static func decode(_ json: JSON, executor: String) -> ExecuteResult {
        guard let object = json.objectValue else {
            return .failed("executor \(executor) returned \(json.typeName), expected a result object")
        }
        guard let statusText = object["status"]?.stringValue, let status = ExecuteStatus(rawValue: statusText) else {
            return .failed("executor \(executor) returned a result without a known status "
                + "(succeeded, failed, invalid, cancelled)")
        }
        var result = ExecuteResult(status: status)
        result.exitCode = object["exitCode"]?.intValue
        result.message = object["message"]?.stringValue ?? ""
        result.output = object["output"]?.stringValue
        if let outputs = object["outputs"] {
            if let outputsObject = outputs.objectValue {
                result.outputs = outputsObject
            } else if !outputs.isNull {
                return .failed("executor \(executor) returned outputs as \(outputs.typeName), expected an object")
            }
        }
        return result
    }
}

extension JSON {
    /// A rough size for buffer reservations; cheap, never exact.
    var estimatedSize: Int {
        switch self {
        case .null, .bool, .int, .double: return 8
        case .string(let s): return s.utf8.count + 2
        case .array(let a): return a.reduce(2) { $0 + $1.estimatedSize + 1 }
        case .object(let o): return o.reduce(2) { $0 + $1.key.utf8.count + 4 + $1.value.estimatedSize }
        }
    }
}
