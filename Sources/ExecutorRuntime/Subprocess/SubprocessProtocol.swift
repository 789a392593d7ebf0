import PlanterCore
import PlanterJSON

/// The subprocess executor protocol: the executor ABI as newline-delimited JSON over a child's
/// stdin/stdout (Sources/ExecutorAPI/README.md, "Subprocess executors"). One message per line, each a
/// JSON object with a `type`; requests and results are the ABI's JSON, unchanged.
///
/// This type writes and reads the messages for both sides: the host (SubprocessExecutor) and
/// executors written in Swift (planter-executor-host).
public enum SubprocessProtocol {
    /// The protocol version this build speaks; the handshake must carry the same.
    public static let version = 1
    /// The longest message line accepted; a longer one is a protocol violation.
    public static let maximumLineBytes = 64 << 20

    /// The executor's first line.
    public struct Handshake: Sendable, Equatable {
        public var protocolVersion: Int
        public var name: String
        public var version: String
        /// Whether several requests may be in flight at once; otherwise the host sends one at a time.
        public var concurrent: Bool
        public var description: String?

        public init(protocolVersion: Int = SubprocessProtocol.version, name: String, version: String,
                    concurrent: Bool, description: String? = nil) {
            self.protocolVersion = protocolVersion
            self.name = name
            self.version = version
            self.concurrent = concurrent
            self.description = description
        }

        /// Reads a handshake message; nil with a reason when it is not one the host can use.
        static func parse(_ object: JSONObject) -> Result<Handshake, HandshakeError> {
            guard let version = object["protocol"]?.intValue else {
                return .failure(.malformed("handshake without an integer \"protocol\""))
            }
            guard version == SubprocessProtocol.version else { return .failure(.versionMismatch(version)) }
            guard let name = object["name"]?.stringValue, !name.isEmpty else {
                return .failure(.malformed("handshake without a \"name\""))
            }
            return .success(Handshake(
                protocolVersion: version, name: name, version: object["version"]?.stringValue ?? "unknown",
                concurrent: object["concurrent"]?.boolValue ?? false, description: object["description"]?.stringValue))
        }

        enum HandshakeError: Error {
            case versionMismatch(Int)
            case malformed(String)
        }
    }

    // MARK: Messages

    /// host → executor: the executor's `config` object (like the ABI's create) and who the host is.
    public static func configureMessage(config: JSON) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 + config.estimatedSize)
        writer.beginObject()
        writer.field("type", "configure")
        writer.field("config", config)
        writer.key("host")
        writer.beginObject()
        writer.field("name", "planter")
        writer.field("version", PlanterVersion.current)
        writer.field("protocol", version)
        writer.endObject()
        writer.endObject()
        return line(writer)
    }

    /// host → executor: one attempt; `request` is the ABI's request JSON text.
    public static func executeMessage(id: String, request: [UInt8]) -> [UInt8] {
        message(type: "execute", id: id, key: "request", json: request)
    }

    /// `{"type":…,"id":…,key:json}` with `json` as it is (requests and results are passed on, not re-encoded).
    private static func message(type: String, id: String, key: String, json: [UInt8]) -> [UInt8] {
        var writer = JSONWriter(capacity: 48 + json.count)
        writer.beginObject()
        writer.field("type", type)
        writer.field("id", id)
        writer.key(key)
        writer.bytes.append(contentsOf: json)
        writer.endObject()
        return line(writer)
    }

    /// host → executor: stop the request `id` and answer it (status `cancelled`) soon.
    public static func cancelMessage(id: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 48)
        writer.beginObject()
        writer.field("type", "cancel")
        writer.field("id", id)
        writer.endObject()
        return line(writer)
    }

    /// executor → host: the first line.
    public static func handshakeMessage(_ handshake: Handshake) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        writer.field("type", "handshake")
        writer.field("protocol", handshake.protocolVersion)
        writer.field("name", handshake.name)
        writer.field("version", handshake.version)
        writer.field("concurrent", handshake.concurrent)
        if let description = handshake.description { writer.field("description", description) }
        writer.endObject()
        return line(writer)
    }

    /// executor → host: the answer to configure.
    public static func configuredMessage() -> [UInt8] { Array("{\"type\":\"configured\"}\n".utf8) }

    /// executor → host: configure failed (or, outside configure, a problem the host should log).
    public static func errorMessage(_ message: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 48 + message.utf8.count)
        writer.beginObject()
        writer.field("type", "error")
        writer.field("message", message)
        writer.endObject()
        return line(writer)
    }

    /// executor → host: a chunk of a request's output (UTF-8 text).
    public static func outputMessage(id: String, stream: OutputChannel, data: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + data.utf8.count)
        writer.beginObject()
        writer.field("type", "output")
        writer.field("id", id)
        writer.field("stream", stream == .stderr ? "stderr" : "stdout")
        writer.field("data", data)
        writer.endObject()
        return line(writer)
    }

    /// executor → host: a log line, about a request (`id`) or the executor as a whole.
    public static func logMessage(id: String?, level: LogLevel, message: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.field("type", "log")
        if let id { writer.field("id", id) }
        writer.field("level", level.name)
        writer.field("message", message)
        writer.endObject()
        return line(writer)
    }

    /// executor → host: the request's result, as the ABI's result JSON.
    public static func resultMessage(id: String, result: ExecuteResult) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 + result.message.utf8.count + (result.output?.utf8.count ?? 0))
        writer.write(result.json)
        return resultMessage(id: id, resultJSON: writer.bytes)
    }

    /// executor → host: the request's result as the plugin wrote it (one JSON object, no newline).
    public static func resultMessage(id: String, resultJSON: [UInt8]) -> [UInt8] {
        message(type: "result", id: id, key: "result", json: resultJSON)
    }

    private static func line(_ writer: JSONWriter) -> [UInt8] {
        var bytes = writer.bytes
        bytes.append(0x0A)
        return bytes
    }

    static func logLevel(_ name: String?) -> LogLevel {
        switch name?.lowercased() {
        case "debug": return .debug
        case "warning", "warn": return .warning
        case "error": return .error
        default: return .info
        }
    }
}

extension ExecuteResult {
    /// The ABI's result JSON for this result.
    public var json: JSON {
        var object: JSONObject = ["status": .string(status.rawValue)]
        if let exitCode { object.appendUnchecked("exitCode", .int(Int64(exitCode))) }
        object.appendUnchecked("message", .string(message))
        object.appendUnchecked("outputs", .object(outputs))
        if let output { object.appendUnchecked("output", .string(output)) }
        return .object(object)
    }
}
