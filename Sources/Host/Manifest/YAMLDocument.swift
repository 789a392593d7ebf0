import CYaml
import PlanterJSON
import Yams

/// YAML text to a JSON value, bounded like JSON: nesting at most `JSONParser.maximumDepth`
/// levels (checked on libyaml's event stream before anything recursive runs), and aliases
/// expanded only up to a budget of values proportional to the text, so a "billion laughs"
/// document is refused at once and in little memory. Values JSON cannot hold (`.inf`, `.nan`,
/// a mapping as a key) are errors at their JSON pointer, not changed.
enum YAMLDocument {
    /// Values the expanded document may hold: ten per byte of text, at least 100,000, at most 4 million.
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

    /// Walks libyaml's events once: syntax errors with line and column, nesting depth, and text
    /// that is not UTF-8 (libyaml refuses it; Yams would otherwise see replacement characters).
    static func checkStructure(_ bytes: [UInt8]) -> Problem? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .error("", "cannot start the YAML parser (out of memory)") }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Problem? in
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return nil }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            var depth = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
                    let mark = parser.problem_mark
                    return .error("", "invalid YAML at line \(mark.line + 1), column \(mark.column + 1): \(problem)")
                }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > JSONParser.maximumDepth {
                        let mark = event.start_mark
                        return .error("", "invalid YAML at line \(mark.line + 1), column \(mark.column + 1): "
                            + "nesting deeper than \(JSONParser.maximumDepth) levels")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
        }
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
                try spend(1 + scalar.string.utf8.count / 64)
                return try value(of: node, scalar.string)
            case .mapping(let mapping):
                try spend(1)
                var object = JSONObject()
                var merged: [Node] = []
                for (key, value) in mapping {
                    guard case .scalar(let keyScalar) = key else {
                        throw ConversionError(path: pointer(), message: "a mapping key must be text, got a \(key.kindName)")
                    }
                    if Tag.Name(rawValue: key.tag.rawValue) == .merge || (keyScalar.string == "<<" && Tag.Name(rawValue: key.tag.rawValue) != .str) {
                        merged.append(value)  // `<<: *base`: applied after the keys written here, which win
                        continue
                    }
                    path.append(keyScalar.string)
                    let converted = try json(from: value)
                    path.removeLast()
                    object[keyScalar.string] = converted
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
                        for member in members where object[member.key] == nil { object.append(member.key, member.value) }
                    }
                }
                return .object(object)
            case .sequence(let sequence):
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
            case .int: return node.int.map { .int(Int64($0)) } ?? .string(text)
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
