/// The result of one execute call; ExecutorKit renders it as the ABI's result JSON.
public struct PluginResult: Sendable, Equatable {
    public enum Status: String, Sendable {
        case succeeded
        case failed
        /// The request or payload is wrong; the host does not retry.
        case invalid
        case cancelled
    }

    public var status: Status
    /// The process exit code, where one exists.
    public var exitCode: Int?
    /// A one-line summary.
    public var message: String?
    /// Handed to dependent phases as their `inputs[<phase id>]`.
    public var outputs: JSONObject
    /// For plugins that do not stream: text appended to the phase's output.
    public var output: String?

    public init(
        status: Status, exitCode: Int? = nil, message: String? = nil, outputs: JSONObject = JSONObject(),
        output: String? = nil
    ) {
        self.status = status
        self.exitCode = exitCode
        self.message = message
        self.outputs = outputs
        self.output = output
    }

    public static func succeeded(
        _ message: String? = nil, exitCode: Int? = nil, outputs: JSONObject = JSONObject()
    ) -> PluginResult {
        PluginResult(status: .succeeded, exitCode: exitCode, message: message, outputs: outputs)
    }

    public static func failed(_ message: String, exitCode: Int? = nil) -> PluginResult {
        PluginResult(status: .failed, exitCode: exitCode, message: message)
    }

    public static func invalid(_ message: String) -> PluginResult {
        PluginResult(status: .invalid, message: message)
    }

    public static func cancelled(_ message: String = "cancelled", exitCode: Int? = nil) -> PluginResult {
        PluginResult(status: .cancelled, exitCode: exitCode, message: message)
    }

    /// The result JSON, e.g. `{"status":"failed","exitCode":2,"message":"exit 2","outputs":{}}`.
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("status")
        writer.write(string: status.rawValue)
        writer.comma()
        if let exitCode { writer.field("exitCode", exitCode) }
        if let message { writer.field("message", message) }
        writer.field("outputs", .object(outputs))
        if let output { writer.field("output", output) }
        writer.endObject()
    }

    public var json: String {
        var writer = JSONWriter(capacity: 96)
        write(to: &writer)
        return writer.string
    }
}
