import ExecutorKit

/// The C types a call may pass and return.
enum CType: String, CaseIterable, Sendable {
    case void, int, int64, double, string, bool

    static let argumentTypes: [CType] = [.int, .int64, .double, .string, .bool]
    /// Spelling in C, for messages.
    var cName: String {
        switch self {
        case .void: return "void"
        case .int: return "int"
        case .int64: return "int64_t"
        case .double: return "double"
        case .string: return "const char *"
        case .bool: return "bool"
        }
    }
}

/// One argument, already checked against its type.
enum CValue: Sendable {
    case int(Int32)
    case int64(Int64)
    case double(Double)
    /// nil passes a NULL pointer.
    case string(String?)
    case bool(Bool)

    var type: CType {
        switch self {
        case .int: return .int
        case .int64: return .int64
        case .double: return .double
        case .string: return .string
        case .bool: return .bool
        }
    }

    /// For messages: `3`, `0.5`, `"text"`.
    var display: String {
        switch self {
        case .int(let v): return String(v)
        case .int64(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let v?): return "\"" + (v.count > 40 ? String(v.prefix(40)) + "…" : v) + "\""
        case .string(nil): return "NULL"
        case .bool(let v): return v ? "true" : "false"
        }
    }
}

/// What to call, from the payload (see README.md).
struct NativeCall: Sendable {
    static let maxArguments = 32

    var library: String
    var symbol: String
    var arguments: [CValue]
    var returns: CType
    var failOnNonZero: Bool

    /// `add(2, 3) -> int`, for messages.
    var signature: String {
        "\(symbol)(\(arguments.map(\.display).joined(separator: ", "))) -> \(returns.rawValue)"
    }

    static let knownKeys = ["library", "symbol", "args", "returns", "failOnNonZero"]

    static func parse(_ payload: JSON) -> Result<NativeCall, PluginError> {
        do throws(PluginError) {
            return .success(try parseOrThrow(payload))
        } catch {
            return .failure(error)
        }
    }

    private static func parseOrThrow(_ payload: JSON) throws(PluginError) -> NativeCall {
        guard let object = payload.objectValue else {
            throw PluginError("payload must be an object, got \(payload.typeName)")
        }
        for member in object where !knownKeys.contains(member.key) {
            throw PluginError("payload has an unknown key \"\(member.key)\" (known: \(knownKeys.joined(separator: ", ")))")
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }
        func name(_ key: String, _ what: String) throws(PluginError) -> String {
            guard let value = present(key) else { throw PluginError("payload needs \(key) (\(what))") }
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                throw PluginError("payload.\(key) must be a non-empty string (\(what)), got \(value.typeName)")
            }
            return text
        }
        let library = try name("library", "a path or soname such as \"libm.so.6\"")
        let symbol = try name("symbol", "the C function's name")

        var arguments: [CValue] = []
        if let value = present("args") {
            guard let array = value.arrayValue else {
                throw PluginError("payload.args must be an array of {type, value} objects, got \(value.typeName)")
            }
            guard array.count <= maxArguments else {
                throw PluginError("payload.args has \(array.count) arguments; at most \(maxArguments) are supported")
            }
            for (index, item) in array.enumerated() {
                arguments.append(try argument(item, field: "payload.args[\(index)]"))
            }
        }

        var returns = CType.void
        if let value = present("returns") {
            // "double" or {"type": "double"}
            let typeValue = value.objectValue != nil ? (value["type"] ?? .null) : value
            let field = value.objectValue != nil ? "payload.returns.type" : "payload.returns"
            guard let text = typeValue.stringValue, let type = CType(rawValue: text) else {
                throw PluginError("\(field) must be one of \(CType.allCases.map(\.rawValue).joined(separator: ", ")), "
                    + "got \(typeValue.stringValue.map { "\"\($0)\"" } ?? typeValue.typeName)")
            }
            returns = type
        }

        var failOnNonZero = false
        if let value = present("failOnNonZero") {
            guard let flag = value.boolValue else {
                throw PluginError("payload.failOnNonZero must be a boolean, got \(value.typeName)")
            }
            guard !flag || returns == .int || returns == .int64 else {
                throw PluginError("payload.failOnNonZero needs returns int or int64, not \(returns.rawValue)")
            }
            failOnNonZero = flag
        }
        return NativeCall(library: library, symbol: symbol, arguments: arguments, returns: returns,
                          failOnNonZero: failOnNonZero)
    }

    private static func argument(_ item: JSON, field: String) throws(PluginError) -> CValue {
        guard let object = item.objectValue else {
            throw PluginError("\(field) must be an object {\"type\": …, \"value\": …}, got \(item.typeName)")
        }
        for member in object where member.key != "type" && member.key != "value" {
            throw PluginError("\(field) has an unknown key \"\(member.key)\" (known: type, value)")
        }
        let names = CType.argumentTypes.map(\.rawValue).joined(separator: ", ")
        guard let typeValue = object["type"] else { throw PluginError("\(field).type is missing (one of \(names))") }
        guard let typeName = typeValue.stringValue, let type = CType(rawValue: typeName), type != .void else {
            throw PluginError("\(field).type must be one of \(names), "
                + "got \(typeValue.stringValue.map { "\"\($0)\"" } ?? typeValue.typeName)")
        }
        let value = object["value"] ?? .null
        func wrong(_ expected: String) -> PluginError {
            PluginError("\(field).value must be \(expected) for type \(type.rawValue), got \(value.typeName == "a number" ? value.serialized : value.typeName)")
        }
        switch type {
        case .int:
            guard let int = value.intValue, let int32 = Int32(exactly: int) else {
                throw wrong("an integer from \(Int32.min) to \(Int32.max)")
            }
            return .int(int32)
        case .int64:
            guard let int = value.intValue else { throw wrong("an integer") }
            return .int64(Int64(int))
        case .double:
            guard let double = value.doubleValue else { throw wrong("a number") }
            return .double(double)
        case .string:
            if value.isNull { return .string(nil) }
            guard let text = value.stringValue else { throw wrong("a string (or null for NULL)") }
            guard !text.utf8.contains(0) else { throw PluginError("\(field).value contains a NUL byte") }
            return .string(text)
        case .bool:
            guard let flag = value.boolValue else { throw wrong("a boolean") }
            return .bool(flag)
        case .void:
            throw PluginError("\(field).type cannot be void")
        }
    }
}
