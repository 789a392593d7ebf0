import PlanterCore
import PlanterJSON

/// Reads one JSON object of a manifest whatever its spelling: `waitFor`, `wait_for` and
/// `WaitFor` are the same field. Keys are matched after lower-casing and dropping `_`/`-`.
/// `x-` keys are extensions, kept verbatim; other unknown keys become warnings.
package struct ObjectReader {
    package let path: String
    /// The fields by normalized name, in document order: one allocation per object. A few per
    /// object, so a linear search beats hashing; an index by name is built only for a large
    /// object (an API client may send one with 100,000 keys).
    private var fields: [Field] = []

    /// A struct, not a tuple: reading one member of an array element then copies only that member
    /// (with a tuple the optimizer copied the whole element, three retains, for each read).
    private struct Field {
        let name: String
        let key: String
        let value: JSON
        var taken = false
    }
    private var positions: [String: Int]? = nil
    package private(set) var extensions = JSONObject()

    package init(_ object: JSONObject, path: String, problems: inout Problems) {
        self.path = path
        fields.reserveCapacity(object.count)
        if object.count > 16 { positions = [:] }
        for member in object {
            if ObjectReader.isExtension(member.key) {
                extensions.append(member.key, member.value)
                continue
            }
            let name = ObjectReader.normalize(member.key)
            if let earlier = position(of: name) {
                problems.error(JSONPointer.append(path, member.key),
                               "\"\(member.key)\" repeats \"\(fields[earlier].key)\" in another spelling; give it once")
                continue
            }
            positions?[name] = fields.count
            fields.append(Field(name: name, key: member.key, value: member.value))
        }
    }

    /// `x-…` or `X-…`, by bytes (String.hasPrefix compares Characters: ~100 instructions a key).
    package static func isExtension(_ key: String) -> Bool {
        var bytes = key.utf8.makeIterator()
        guard let first = bytes.next(), first == UInt8(ascii: "x") || first == UInt8(ascii: "X") else { return false }
        return bytes.next() == UInt8(ascii: "-")
    }

    private func position(of name: String) -> Int? {
        if let positions { return positions[name] }
        return fields.firstIndex { $0.name == name }
    }

    package static func normalize(_ key: String) -> String {
        // Fast path: most keys are already lowercase ASCII letters (`id`, `spec`, `kind`).
        if key.utf8.allSatisfy({ $0 >= 0x61 && $0 <= 0x7A }) { return key }
        let ascii = String(unsafeUninitializedCapacity: key.utf8.count) { buffer in
            var count = 0
            for byte in key.utf8 where byte != UInt8(ascii: "_") && byte != UInt8(ascii: "-") {
                buffer[count] = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte
                count += 1
            }
            return count
        }
        return key.utf8.allSatisfy({ $0 < 0x80 }) ? ascii : ascii.lowercased()
    }

    /// The value of a field (by its normalized name) and its pointer, consuming it. A field
    /// given as `null` is "not set" (the original Planter writes `"instance_mode": null`): nil.
    package mutating func take(_ name: String) -> (value: JSON, path: String)? {
        guard let field = takeIncludingNull(name), !field.value.isNull else { return nil }
        return field
    }

    /// As `take`, with the key as written instead of its pointer, for callers that build the
    /// pointer only when they report a problem (`JSONPointer.append(path, key)`): a pointer is a
    /// string built per field read, the larger part of a read's cost.
    package mutating func takeKeyed(_ name: String, includingNull: Bool = false) -> (value: JSON, key: String)? {
        guard let index = position(of: name), !fields[index].taken else { return nil }
        fields[index].taken = true  // a null is taken too: "not set", not an unknown field
        guard includingNull || !fields[index].value.isNull else { return nil }
        return (fields[index].value, fields[index].key)
    }

    /// As `take`, but a `null` value is returned: for required fields, whose null is an error.
    package mutating func takeIncludingNull(_ name: String) -> (value: JSON, path: String)? {
        guard let index = position(of: name), !fields[index].taken else { return nil }
        fields[index].taken = true
        return (fields[index].value, JSONPointer.append(path, fields[index].key))
    }

    /// Reports what nobody took as unknown, with the closest known name when one is near. In
    /// manifests a warning (newer protocol versions may add fields); in a deployment config an
    /// error (a typo such as `isolatoin` must not silently change what runs).
    package mutating func finish(_ problems: inout Problems, known: String, severity: Problem.Severity = .warning) {
        for index in fields.indices where !fields[index].taken {
            let key = fields[index].key
            let knownNames = known.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
            let hint = ObjectReader.hint(for: key, in: knownNames)
            let ignored = severity == .warning ? " ignored" : ""
            problems.append(Problem(severity, JSONPointer.append(path, key),
                                    "unknown field \"\(key)\"\(ignored) (\(hint)known here: \(known); extensions start with x-)"))
        }
        fields.removeAll()
        positions = nil
    }

    /// `did you mean "x"? ` for the known name nearest to `key` in any spelling (`isolatoin` → `isolation`).
    package static func hint(for key: String, in names: [String]) -> String {
        NearestName.hint(for: key, in: names, normalize: normalize)
    }
}

/// Typed reads with messages that say what was expected and what came. The pointer is an
/// autoclosure: it is built only when there is a problem to report (most reads have none).
package enum FieldReader {
    /// A string; any other type is an error naming what came (a number is not turned into text).
    package static func string(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String) -> String? {
        guard case .string(let s) = value else {
            // YAML reads `id: 2024` as a number: say how to mean text.
            let hint = value.doubleValue != nil || value.boolValue != nil ? " (quote it to mean text: \"\(value.serialized)\")" : ""
            problems.error(path(), "\(what) must be a string, got \(describe(value))\(hint)")
            return nil
        }
        return s
    }

    /// An integer, also from a numeric string (`"5"`), as some manifest writers send them.
    package static func integer(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String,
                        range: ClosedRange<Int>) -> Int? {
        let number: Int?
        switch value {
        case .int, .double: number = value.intValue
        case .string(let s): number = Int(s.trimmingSpaces)
        default: number = nil
        }
        guard let number else {
            problems.error(path(), "\(what) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(describe(value))")
            return nil
        }
        guard range.contains(number) else {
            problems.error(path(), "\(what) must be in \(range.lowerBound)...\(range.upperBound), got \(number)")
            return nil
        }
        return number
    }

    package static func duration(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String) -> PlanDuration? {
        switch PlanDuration.parse(value) {
        case .success(let duration): return duration
        case .failure(let reason):
            problems.error(path(), "\(what) must be a duration from 0 to 30 days, like 300ms, 5s, 2m, 1h or a number "
                + "of seconds; got \(describe(value)) (\(reason))")
            return nil
        }
    }

    /// A number in `range`, also from a numeric string (`"0.1"`).
    package static func number(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String,
                       range: ClosedRange<Double>) -> Double? {
        guard let number = lenientNumber(value), number.isFinite else {
            problems.error(path(), "\(what) must be a number from \(range.lowerBound.compact) to \(range.upperBound.compact), got \(describe(value))")
            return nil
        }
        guard range.contains(number) else {
            problems.error(path(), "\(what) must be from \(range.lowerBound.compact) to \(range.upperBound.compact), got \(describe(value))")
            return nil
        }
        return number
    }

    /// A number, also from a numeric string (`"0.1"`), as some manifest writers send them.
    package static func lenientNumber(_ json: JSON) -> Double? {
        if let value = json.doubleValue { return value }
        return json.stringValue.flatMap { Double($0.trimmingSpaces) }
    }

    /// A list of strings; a single string is taken as a list of one.
    package static func strings(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String) -> [String] {
        switch value {
        case .string(let s): return [s]
        case .array(let elements):
            var result: [String] = []
            for (index, element) in elements.enumerated() {
                if let s = element.stringValue {
                    result.append(s)
                } else {
                    problems.error(JSONPointer.append(path(), index), "\(what) must be a string, got \(element.typeName)")
                }
            }
            return result
        case .null: return []
        default:
            problems.error(path(), "\(what) must be a list of strings, got \(value.typeName)")
            return []
        }
    }

    package static func labels(_ value: JSON, _ path: @autoclosure () -> String, _ problems: inout Problems, what: String) -> Labels {
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path(), "\(what) must be an object of string values, got \(value.typeName)") }
            return Labels()
        }
        var labels = Labels()
        for member in object {
            if let s = member.value.stringValue {
                labels.appendUnchecked(member.key, s)
            } else {
                problems.error(JSONPointer.append(path(), member.key),
                               "label \"\(member.key)\" must have a string value, got \(describe(member.value))")
            }
        }
        return labels
    }

    /// The value for a message: short scalars as written, long text cut, containers by type.
    package static func describe(_ value: JSON) -> String {
        switch value {
        case .string(let s):
            let shown = s.unicodeScalars.count > 60 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(60))) + "…" : s
            return "\"\(shown)\""
        case .int, .double, .bool: return value.serialized
        default: return value.typeName
        }
    }
}

extension Double {
    /// `1` rather than `1.0` in messages.
    package var compact: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
