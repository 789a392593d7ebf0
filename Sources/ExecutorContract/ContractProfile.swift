import PlanterJSON

/// What a plugin author tells the contract kit about their executor: the inputs some checks need
/// (a payload that streams, one that runs long enough to cancel, a config the executor must refuse…).
/// Every part is optional; a check whose input is missing is reported as skipped, with why.
///
/// As JSON (a file beside the plugin, `planter plugins check PATH --profile FILE`):
///
/// ```json
/// {
///   "config": {},
///   "badConfig": {"config": {"fail": true}, "message": "configured to fail"},
///   "badPayload": {"payload": 42, "message": "payload must be an object"},
///   "stream": {"payload": {"script": "echo hello"}, "expect": "hello"},
///   "long": {"payload": {"script": "sleep 300"}},
///   "outputs": {"payload": {"name": "x"}, "expect": {"greeting": "hi x"}},
///   "oversizedOutputs": {"config": {"maxOutputsBytes": 10}, "payload": {}, "message": "too large"},
///   "concurrency": 4, "timeLimitMs": 500, "cancelGraceMs": 10000,
///   "skip": {"cancel-during": "a native call cannot be interrupted once started"}
/// }
/// ```
public struct ContractProfile: Sendable, Equatable {
    /// One call the checks make: the request's payload, description and inputs, the executor config
    /// to create it with (when it differs from the profile's), and what to expect of it.
    public struct Case: Sendable, Equatable {
        public var payload: JSON = .object(JSONObject())
        public var description = ""
        public var inputs = JSONObject()
        public var config: JSON?
        /// `stream`: text the output must contain; `outputs`: an object whose keys the outputs must hold.
        public var expect: JSON?
        /// Text the result's (or create's) message must contain.
        public var message: String?

        public init(payload: JSON = .object(JSONObject()), description: String = "", inputs: JSONObject = JSONObject(),
                    config: JSON? = nil, expect: JSON? = nil, message: String? = nil) {
            self.payload = payload
            self.description = description
            self.inputs = inputs
            self.config = config
            self.expect = expect
            self.message = message
        }
    }

    /// The config every instance is created with, unless a case names its own.
    public var config: JSON = .object(JSONObject())
    /// A config create must refuse (`config`), and text its error should contain (`message`).
    public var badConfig: Case?
    /// A payload the executor must answer with status `invalid`.
    public var badPayload: Case?
    /// A call that succeeds and writes `expect` (text) to its output.
    public var stream: Case?
    /// A call that runs for much longer than the checks wait (30 s or more) unless cancelled.
    public var long: Case?
    /// A call whose outputs hold every key of `expect` with its value.
    public var outputs: Case?
    /// A call whose outputs are over the executor's limit, which must fail (or be invalid), not succeed.
    public var oversizedOutputs: Case?
    /// Threads calling one instance at once in the concurrency check.
    public var concurrency = 4
    /// The time limit (`timeoutMs`) of the time-limit check.
    public var timeLimitMs = 500
    /// How long a cancelled call may take to return: the host's own grace for subprocess executors.
    public var cancelGraceMs = 10_000
    /// Checks the author skips on purpose, each with the reason shown in the report.
    public var skip: [String: String] = [:]

    public init() {}

    /// Reads a profile, refusing anything unknown or of the wrong type with the JSON pointer of the problem.
    public static func parse(_ json: JSON) throws(ContractProfileError) -> ContractProfile {
        guard let object = json.objectValue else { throw ContractProfileError("", "must be an object, got \(json.typeName)") }
        var profile = ContractProfile()
        for member in object {
            let (key, value) = (member.key, member.value)
            switch key {
            case "config": profile.config = try config(value, at: "/config")
            case "badConfig": profile.badConfig = try parseCase(value, at: "/badConfig")
            case "badPayload": profile.badPayload = try parseCase(value, at: "/badPayload")
            case "stream": profile.stream = try parseCase(value, at: "/stream")
            case "long": profile.long = try parseCase(value, at: "/long")
            case "outputs": profile.outputs = try parseCase(value, at: "/outputs")
            case "oversizedOutputs": profile.oversizedOutputs = try parseCase(value, at: "/oversizedOutputs")
            case "concurrency": profile.concurrency = try integer(value, at: "/concurrency", in: 1...64)
            case "timeLimitMs": profile.timeLimitMs = try integer(value, at: "/timeLimitMs", in: 1...60_000)
            case "cancelGraceMs": profile.cancelGraceMs = try integer(value, at: "/cancelGraceMs", in: 1...120_000)
            case "skip":
                guard let reasons = value.objectValue else { throw ContractProfileError("/skip", "must be an object of check name → reason") }
                for member in reasons {
                    let (name, reason) = (member.key, member.value)
                    guard ContractCheck.names.contains(name) else {
                        throw ContractProfileError("/skip/\(name)", "no check is named \"\(name)\" (checks: \(ContractCheck.names.joined(separator: ", ")))")
                    }
                    guard let text = reason.stringValue, !text.isEmpty else {
                        throw ContractProfileError("/skip/\(name)", "must be a non-empty string: the reason shown in the report")
                    }
                    profile.skip[name] = text
                }
            default:
                throw ContractProfileError("/\(key)", "unknown key \"\(key)\" (known: \(topKeys.joined(separator: ", ")))")
            }
        }
        return profile
    }

    /// Reads a profile from JSON text.
    public static func parse(text: String) throws(ContractProfileError) -> ContractProfile {
        let json: JSON
        do { json = try JSONParser.parse(text) } catch { throw ContractProfileError("", "is not JSON: \(error)") }
        return try parse(json)
    }

    static let topKeys = ["config", "badConfig", "badPayload", "stream", "long", "outputs", "oversizedOutputs",
                          "concurrency", "timeLimitMs", "cancelGraceMs", "skip"]
    static let caseKeys = ["payload", "description", "inputs", "config", "expect", "message"]

    private static func parseCase(_ json: JSON, at pointer: String) throws(ContractProfileError) -> Case {
        guard let object = json.objectValue else {
            throw ContractProfileError(pointer, "must be an object with \(caseKeys.joined(separator: ", ")), got \(json.typeName)")
        }
        var result = Case()
        for member in object {
            let (key, value) = (member.key, member.value)
            switch key {
            case "payload": result.payload = value
            case "description": result.description = try string(value, at: pointer + "/description")
            case "inputs":
                guard let inputs = value.objectValue else { throw ContractProfileError(pointer + "/inputs", "must be an object") }
                result.inputs = inputs
            case "config": result.config = try config(value, at: pointer + "/config")
            case "expect": result.expect = value
            case "message": result.message = try string(value, at: pointer + "/message")
            default:
                throw ContractProfileError(pointer + "/" + key, "unknown key \"\(key)\" (known: \(caseKeys.joined(separator: ", ")))")
            }
        }
        return result
    }

    private static func config(_ json: JSON, at pointer: String) throws(ContractProfileError) -> JSON {
        guard json.objectValue != nil else { throw ContractProfileError(pointer, "must be an object (the executor config), got \(json.typeName)") }
        return json
    }

    private static func string(_ json: JSON, at pointer: String) throws(ContractProfileError) -> String {
        guard let text = json.stringValue else { throw ContractProfileError(pointer, "must be a string, got \(json.typeName)") }
        return text
    }

    private static func integer(_ json: JSON, at pointer: String, in range: ClosedRange<Int>) throws(ContractProfileError) -> Int {
        guard let number = json.intValue, range.contains(number) else {
            throw ContractProfileError(pointer, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(json.serialized)")
        }
        return number
    }
}

/// A profile that cannot be used, with the JSON pointer of the problem.
public struct ContractProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pointer: String
    public var reason: String

    public init(_ pointer: String, _ reason: String) {
        self.pointer = pointer
        self.reason = reason
    }

    public var description: String { "contract profile\(pointer.isEmpty ? "" : " " + pointer): \(reason)" }
}
