import CYaml
import PlanterCore
import PlanterJSON
import Yams

/// YAML text to a JSON value, bounded like JSON: nesting at most `JSONParser.maximumDepth`
/// levels (checked on libyaml's event stream before anything recursive runs), and aliases
/// expanded only up to a budget of values proportional to the text, so a "billion laughs"
/// document is refused at once and in little memory. Values JSON cannot hold (`.inf`, `.nan`,
/// a mapping as a key) are errors at their JSON pointer, not changed.
enum YAMLDocument {
    /// Values the expanded document may hold: ten per byte of text, at least 100,000, at most 4 million
    /// (text costs one value per 16 bytes, so expanded text stays under 64 MB).
    static func budget(forBytes count: Int) -> Int { min(4_000_000, max(100_000, count.multipliedReportingOverflow(by: 10).partialValue)) }

    static func parse(_ bytes: [UInt8]) -> Result<JSON, ValidationFailure> {
        if let problem = checkStructure(bytes) { return .failure(ValidationFailure([problem])) }
        // libyaml also reads UTF-16 (after a byte order mark); Planter's documents are UTF-8, as JSON's are.
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ValidationFailure([.error("", "invalid YAML: the text is not UTF-8")]))
        }
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                return .failure(ValidationFailure([.error("", "the YAML document is empty")]))
            }
            node = composed
        } catch let error as YamlError {
            return .failure(ValidationFailure([.error("", DocumentParser.describe(error))]))
        } catch {
            return .failure(ValidationFailure([.error("", "invalid YAML: \(error)")]))
        }
        var converter = Converter(budget: budget(forBytes: bytes.count))
        do {
            return .success(try converter.json(from: node))
        } catch {
            return .failure(ValidationFailure([.error(error.path, error.message)]))
        }
    }

    /// Walks libyaml's events once, before Yams composes anything: syntax errors with line and
    /// column, nesting depth, text that is not UTF-8, and keys that are not text. (Yams hashes every
    /// key to find duplicates, recursing into it: an alias as a key could expand a "billion laughs"
    /// inside that hash, or recurse past the stack, before any budget applies.)
    static func checkStructure(_ bytes: [UInt8]) -> Problem? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .error("", "cannot start the YAML parser (out of memory)") }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Problem? in
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return nil }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            // One entry per open container: whether it is a mapping, and whether its next node is a key.
            var open: [(isMapping: Bool, expectsKey: Bool)] = []
            func at(_ mark: yaml_mark_t, _ message: String) -> Problem {
                .error("", "invalid YAML at line \(mark.line + 1), column \(mark.column + 1): \(message)")
            }
            /// A node ended: in a mapping, a key is followed by its value and a value by the next key.
            func completed() {
                if let last = open.indices.last, open[last].isMapping { open[last].expectsKey.toggle() }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
                    if parser.error == YAML_READER_ERROR {
                        // libyaml gives a byte offset, not a mark, for text it cannot read.
                        let (line, column) = lineAndColumn(buffer, offset: parser.problem_offset)
                        return .error("", "invalid YAML at line \(line), column \(column): \(problem)")
                    }
                    let context = parser.context.map { " (\(String(cString: $0)))" } ?? ""
                    return at(parser.problem_mark, problem + context)
                }
                defer { yaml_event_delete(&event) }
                let isKey = open.last.map { $0.isMapping && $0.expectsKey } ?? false
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    if isKey { return at(event.start_mark, "a mapping key must be text, not a list or mapping") }
                    open.append((event.type == YAML_MAPPING_START_EVENT, true))
                    if open.count > JSONParser.maximumDepth {
                        return at(event.start_mark, "nesting deeper than \(JSONParser.maximumDepth) levels")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    open.removeLast()
                    completed()
                case YAML_ALIAS_EVENT:
                    if isKey { return at(event.start_mark, "a mapping key must be written out, not an alias (*name)") }
                    completed()
                case YAML_SCALAR_EVENT:
                    completed()
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
        }
    }

    static func lineAndColumn(_ buffer: UnsafeBufferPointer<UInt8>, offset: Int) -> (Int, Int) {
        var line = 1, column = 1
        for byte in buffer.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    struct ConversionError: Error {
        var path: String
        var message: String
    }

    /// Node → JSON, iterating a budget of values. Pointers are built only for an error.
    struct Converter {
        var budget: Int
        var path: [String] = []
        let initialBudget: Int

        init(budget: Int) {
            self.budget = budget
            initialBudget = budget
        }

        func pointer() -> String { path.reduce("") { JSONPointer.append($0, $1) } }

        mutating func spend(_ cost: Int) throws(ConversionError) {
            budget -= cost
            if budget < 0 {
                throw ConversionError(path: pointer(), message: "the YAML document expands to more than \(initialBudget) values "
                    + "through its aliases (*name); write the values out, or use fewer aliases")
            }
        }

        mutating func json(from node: Node) throws(ConversionError) -> JSON {
            switch node {
            case .scalar(let scalar):
                try spend(1 + scalar.string.utf8.count / 16)
                return try value(of: node, scalar.string)
            case .mapping(let mapping):
                // Aliases can nest a tree deeper than any one event path: the depth is checked here too.
                guard path.count < JSONParser.maximumDepth else {
                    throw ConversionError(path: pointer(), message: "nesting deeper than \(JSONParser.maximumDepth) levels (through aliases)")
                }
                try spend(1)
                var object = JSONObject()
                var keys = Set<String>()  // JSONObject lookups are linear; a YAML mapping may have 100,000 keys
                var merged: [Node] = []
                for (key, value) in mapping {
                    guard case .scalar(let keyScalar) = key else {
                        throw ConversionError(path: pointer(), message: "a mapping key must be text, got a \(key.kindName)")
                    }
                    if Tag.Name(rawValue: key.tag.rawValue) == .merge || (keyScalar.string == "<<" && Tag.Name(rawValue: key.tag.rawValue) != .str) {
                        merged.append(value)  // `<<: *base`: applied after the keys written here, which win
                        continue
                    }
                    try spend(1 + keyScalar.string.utf8.count / 16)
                    path.append(keyScalar.string)
                    let converted = try json(from: value)
                    path.removeLast()
                    if keys.insert(keyScalar.string).inserted {
                        object.appendUnchecked(keyScalar.string, converted)
                    } else {
                        object[keyScalar.string] = converted
                    }
                }
                for source in merged {
                    let sources: [Node]
                    switch source {
                    case .mapping: sources = [source]
                    case .sequence(let sequence): sources = Array(sequence)
                    default: throw ConversionError(path: JSONPointer.append(pointer(), "<<"), message: "a merge key (<<) takes a mapping or a list of mappings")
                    }
                    for item in sources {
                        path.append("<<")
                        let converted = try json(from: item)
                        path.removeLast()
                        guard let members = converted.objectValue else {
                            throw ConversionError(path: JSONPointer.append(pointer(), "<<"), message: "a merge key (<<) takes a mapping or a list of mappings")
                        }
                        for member in members where keys.insert(member.key).inserted { object.appendUnchecked(member.key, member.value) }
                    }
                }
                return .object(object)
            case .sequence(let sequence):
                guard path.count < JSONParser.maximumDepth else {
                    throw ConversionError(path: pointer(), message: "nesting deeper than \(JSONParser.maximumDepth) levels (through aliases)")
                }
                try spend(1)
                var elements: [JSON] = []
                elements.reserveCapacity(sequence.count)
                for (index, element) in sequence.enumerated() {
                    path.append(String(index))
                    elements.append(try json(from: element))
                    path.removeLast()
                }
                return .array(elements)
            case .alias:
                // compose resolves aliases to their nodes; an unresolved one is not a value.
                throw ConversionError(path: pointer(), message: "unresolved YAML alias")
            }
        }

        func value(of node: Node, _ text: String) throws(ConversionError) -> JSON {
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSON.bool) ?? .string(text)
            // Not Yams' integer constructor: its base-60 form (`1:0:0`) multiplies without overflow checks.
            case .int: return integer(text).map(JSON.int) ?? .string(text)
            case .float:
                guard let double = node.float else { return .string(text) }
                guard double.isFinite else {
                    throw ConversionError(path: pointer(), message: "\(text) is not a JSON number (infinity and NaN have no JSON form); quote it to mean text")
                }
                return .double(double)
            default: return .string(text)
            }
        }
    }
}

/// A YAML integer (`12`, `-3`, `1_000`, `0x1F`, `0o17`, `0b101`) that fits in 64 bits; anything
/// else (base 60, overflow) stays text, for the field that reads it to judge.
func integer(_ text: String) -> Int64? {
    var digits = Substring(text.filter { $0 != "_" })
    var sign: Int64 = 1
    if digits.hasPrefix("-") { sign = -1; digits = digits.dropFirst() } else if digits.hasPrefix("+") { digits = digits.dropFirst() }
    var radix = 10
    for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] where digits.hasPrefix(prefix) {
        radix = base
        digits = digits.dropFirst(2)
    }
    guard !digits.isEmpty, !digits.hasPrefix("-"), !digits.hasPrefix("+"), let magnitude = Int64(digits, radix: radix) else {
        return nil
    }
    return sign * magnitude  // |Int64(...)| ≤ Int64.max, so the product cannot overflow
}

extension Node {
    var kindName: String {
        switch self {
        case .scalar: return "scalar"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }
}
