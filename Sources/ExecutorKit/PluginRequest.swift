/// One execute request, parsed from the request JSON (Sources/ExecutorAPI/README.md).
/// Missing keys take their defaults; unknown keys are ignored but kept in `raw`.
public struct PluginRequest: Sendable {
    public var abiVersion: Int = 1
    public var runId: String = ""
    public var phaseId: String = ""
    public var executor: String = ""
    public var description: String = ""
    public var labels: [String: String] = [:]
    public var attempt: Int = 1
    public var maxAttempts: Int = 1
    /// The phase's `x-run` object, verbatim (`{}` when absent).
    public var payload: JSON = .object(JSONObject())
    public var dryRun: Bool = false
    /// The attempt's time limit in milliseconds, if any.
    public var timeoutMs: Int?
    /// The `outputs` of every phase this one waits for, keyed by phase id.
    public var inputs: JSONObject = JSONObject()
    /// Secret values granted to this executor, by name.
    public var secrets: [String: String] = [:]
    /// The token of the Planter that sent the request (empty when it named none): processes
    /// started for the phase carry it as `PLANTER_OWNER` (see PhaseTag).
    public var owner: String = ""
    /// The whole request object.
    public var raw: JSONObject = JSONObject()

    public init() {}

    /// Reads a request object. Throws a `PluginError` naming the offending key when a
    /// known key has the wrong type.
    public init(json: JSON) throws(PluginError) {
        guard let object = json.objectValue else {
            throw PluginError("request must be a JSON object, got \(json.typeName)")
        }
        raw = object
        for member in object.members {
            let value = member.value
            switch member.key {
            case "abiVersion": abiVersion = try Self.int(value, "abiVersion")
            case "runId": runId = try Self.string(value, "runId")
            case "phaseId": phaseId = try Self.string(value, "phaseId")
            case "executor": executor = try Self.string(value, "executor")
            case "description": if !value.isNull { description = try Self.string(value, "description") }
            case "labels": labels = try Self.stringMap(value, "labels")
            case "attempt": attempt = try Self.int(value, "attempt")
            case "maxAttempts": maxAttempts = try Self.int(value, "maxAttempts")
            case "payload": if !value.isNull { payload = value }
            case "dryRun":
                guard let flag = value.boolValue else { throw Self.wrongType("dryRun", "a boolean", value) }
                dryRun = flag
            case "timeoutMs":
                // Plugins turn it into nanoseconds: a value past 30 days (the longest a manifest may ask) is refused, not overflowed.
                timeoutMs = value.isNull ? nil : try Self.int(value, "timeoutMs")
                if let ms = timeoutMs, !(0...Self.maximumTimeoutMs).contains(ms) {
                    throw PluginError("timeoutMs must be from 0 to \(Self.maximumTimeoutMs) (30 days), got \(ms)")
                }
            case "inputs":
                if value.isNull { continue }
                guard let inputs = value.objectValue else { throw Self.wrongType("inputs", "an object", value) }
                self.inputs = inputs
            case "secrets": secrets = try Self.stringMap(value, "secrets")
            case "owner": if !value.isNull { owner = try Self.string(value, "owner") }
            default: continue
            }
        }
    }

    /// Parses request JSON text.
    public init(bytes: UnsafeBufferPointer<UInt8>) throws(PluginError) {
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw PluginError("request is not valid JSON: \(error)")
        }
        try self.init(json: json)
    }

    private static func wrongType(_ key: String, _ expected: String, _ value: JSON) -> PluginError {
        PluginError("request.\(key) must be \(expected), got \(value.typeName)")
    }

    private static func string(_ value: JSON, _ key: String) throws(PluginError) -> String {
        guard let string = value.stringValue else { throw wrongType(key, "a string", value) }
        return string
    }

    /// 30 days in milliseconds: what `PlanDuration.maximum` allows a manifest.
    public static let maximumTimeoutMs = 30 * 86_400_000

    private static func int(_ value: JSON, _ key: String) throws(PluginError) -> Int {
        guard let int = value.intValue else { throw wrongType(key, "an integer", value) }
        return int
    }

    private static func stringMap(_ value: JSON, _ key: String) throws(PluginError) -> [String: String] {
        if value.isNull { return [:] }
        guard let object = value.objectValue else { throw wrongType(key, "an object of strings", value) }
        var map: [String: String] = [:]
        map.reserveCapacity(object.count)
        for member in object.members {
            guard let string = member.value.stringValue else {
                throw PluginError("request.\(key).\(member.key) must be a string, got \(member.value.typeName)")
            }
            map[member.key] = string
        }
        return map
    }
}
