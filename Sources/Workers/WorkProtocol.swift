import ExecutorRuntime
import PlanterCore
import PlanterJSON

/// Messages shared by Planter and its workers (the subjects are `WorkSubjects`). Version 2
/// (version 1 had one work stream for every namespace); a work item of another version is
/// refused with a message naming both versions, and Planter warns about a worker whose presence
/// announces another version.
public enum WorkProtocol {
    public static let version = 2

    /// One attempt of one phase, for a worker of `pool`.
    public struct Dispatch: Sendable {
        public var dispatchId: String
        public var pool: String
        /// How long Planter waits without a heartbeat before it calls the worker lost.
        public var leaseMs: Int64
        public var request: ExecuteRequest

        public init(dispatchId: String, pool: String, leaseMs: Int64, request: ExecuteRequest) {
            self.dispatchId = dispatchId
            self.pool = pool
            self.leaseMs = leaseMs
            self.request = request
        }

        public func encoded() -> [UInt8] {
            var writer = JSONWriter(capacity: 512)
            writer.beginObject()
            writer.field("protocol", WorkProtocol.version)
            writer.field("dispatchId", dispatchId)
            writer.field("pool", pool)
            writer.field("leaseMs", Int(leaseMs))
            writer.key("request")
            writer.writeRaw(String(decoding: request.encodedJSON(), as: UTF8.self))
            writer.comma()
            writer.endObject()
            return writer.bytes
        }

        /// Reads a work item; what is wrong with it otherwise, naming the field.
        public static func decode(_ data: [UInt8]) -> Result<Dispatch, Refusal> {
            guard let json = try? JSONParser.parse(data), let object = json.objectValue else {
                return .failure(Refusal(dispatchId: nil, message: "the work item is not a JSON object"))
            }
            let id = object["dispatchId"]?.stringValue
            guard let version = object["protocol"]?.intValue, version == WorkProtocol.version else {
                return .failure(Refusal(dispatchId: id, message: "this worker speaks work protocol \(WorkProtocol.version); the item is version "
                    + "\(object["protocol"].map { "\($0)" } ?? "none"): run a planter worker of the server's version"))
            }
            guard let id, let pool = object["pool"]?.stringValue, let lease = object["leaseMs"]?.intValue, lease > 0,
                let request = object["request"]?.objectValue
            else { return .failure(Refusal(dispatchId: id, message: "the work item lacks dispatchId, pool, leaseMs or request")) }
            guard let runId = request["runId"]?.stringValue, let phaseId = request["phaseId"]?.stringValue,
                let executor = request["executor"]?.stringValue
            else { return .failure(Refusal(dispatchId: id, message: "the request lacks runId, phaseId or executor")) }
            var labels: [(String, String)] = []
            for member in request["labels"]?.objectValue ?? JSONObject() {
                if let value = member.value.stringValue { labels.append((member.key, value)) }
            }
            var secrets: [String: String] = [:]
            for member in request["secrets"]?.objectValue ?? JSONObject() { secrets[member.key] = member.value.stringValue }
            var decoded = ExecuteRequest(runId: runId, phaseId: phaseId, executor: executor,
                                         description: request["description"]?.stringValue ?? "", labels: Labels(labels),
                                         attempt: request["attempt"]?.intValue ?? 1, maxAttempts: request["maxAttempts"]?.intValue ?? 1,
                                         payload: request["payload"] ?? .object(JSONObject()), dryRun: request["dryRun"]?.boolValue ?? false,
                                         timeoutMs: request["timeoutMs"]?.intValue, inputs: request["inputs"]?.objectValue ?? JSONObject(),
                                         secrets: secrets)
            decoded.owner = request["owner"]?.stringValue
            return .success(Dispatch(dispatchId: id, pool: pool, leaseMs: Int64(lease), request: decoded))
        }
    }

    public struct Refusal: Error, Sendable {
        public var dispatchId: String?
        public var message: String
    }

    /// A dispatch's outcome, published durably by the worker that ran it.
    /// `outputEvents`: how many output events the worker published for it (core NATS, another path than the
    /// result's: Planter waits a moment for those that have not arrived yet).
    public static func result(dispatchId: String, worker: String, request: ExecuteRequest?, _ result: ExecuteResult,
                              outputEvents: Int = 0) -> [UInt8] {
        var outcome = JSONObject()
        outcome.appendUnchecked("status", .string(result.status.rawValue))
        if let code = result.exitCode { outcome.appendUnchecked("exitCode", .int(Int64(code))) }
        outcome.appendUnchecked("message", .string(result.message))
        outcome.appendUnchecked("outputs", .object(result.outputs))
        if let output = result.output { outcome.appendUnchecked("output", .string(output)) }
        var object: JSONObject = ["protocol": .int(Int64(version)), "dispatchId": .string(dispatchId), "worker": .string(worker),
                                  "result": .object(outcome), "outputEvents": .int(Int64(outputEvents))]
        // Which attempt it was: a Planter restarted since can still place it.
        if let request {
            object["runId"] = .string(request.runId)
            object["phaseId"] = .string(request.phaseId)
            object["attempt"] = .int(Int64(request.attempt))
        }
        return encode(.object(object))
    }

    /// A live event of a dispatch: `started` (with `worker`), `output` (`stream`, `text`), `heartbeat`.
    public static func event(_ type: String, dispatchId: String, worker: String, extra: JSONObject = JSONObject()) -> [UInt8] {
        var object: JSONObject = ["type": .string(type), "dispatchId": .string(dispatchId), "worker": .string(worker)]
        for member in extra { object[member.key] = member.value }
        return encode(.object(object))
    }

    static func encode(_ json: JSON) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.write(json)
        return writer.bytes
    }
}
