/// A RESP2 reply. Strings are bytes (Redis values are binary); status and error lines are text.
public enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case null
    case error(String)
    case array([RedisReply])

    public var bytes: [UInt8]? {
        switch self {
        case .string(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// An integer reply, or a string holding one (HGET of a counter).
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .string(let bytes): Int64(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    public var array: [RedisReply]? { if case .array(let elements) = self { elements } else { nil } }
    public var isNull: Bool { self == .null }

    /// The reply, or a RedisError.reply when Redis answered an error (`ERR …`, `NOSCRIPT …`).
    public func checked(_ command: String) throws(RedisError) -> RedisReply {
        if case .error(let message) = self { throw .reply(command: command, message: message) }
        return self
    }
}

/// Why a Redis call failed.
public enum RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No connection (refused, timed out, lost): the next call connects again.
    case connection(String)
    /// AUTH or SELECT refused: retrying will not help until the configuration changes.
    case setup(String)
    /// Redis answered the command with an error.
    case reply(command: String, message: String)
    /// The reply was larger or deeper than this client accepts.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .connection(let message): "Redis is unreachable: \(message)"
        case .setup(let message): message
        case .reply(let command, let message): "Redis refused \(command): \(message)"
        case .tooLarge(let message): message
        }
    }

    public var isConnection: Bool { if case .connection = self { true } else { false } }
}

/// A command as its arguments: binary safe, never a format string.
public struct RedisCommand: Sendable {
    public var arguments: [[UInt8]]

    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisBytes)
    }

    public init(arguments: [[UInt8]]) { self.arguments = arguments }

    public mutating func append(_ arguments: any RedisArgument...) { self.arguments += arguments.map(\.redisBytes) }

    /// The command's name, for messages (never its arguments: they may hold secrets).
    public var name: String { arguments.first.map { String(decoding: $0, as: UTF8.self) } ?? "" }
}

public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument { public var redisBytes: [UInt8] { Array(utf8) } }
extension Substring: RedisArgument { public var redisBytes: [UInt8] { Array(utf8) } }
extension Array: RedisArgument where Element == UInt8 { public var redisBytes: [UInt8] { self } }
extension Int: RedisArgument { public var redisBytes: [UInt8] { Array(String(self).utf8) } }
extension Int64: RedisArgument { public var redisBytes: [UInt8] { Array(String(self).utf8) } }
