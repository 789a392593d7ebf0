import Foundation
import PlanterJSON
import Yams

/// Reads manifest and config text (JSON or YAML) into a JSON value. A parse failure is a
/// Problem with the line and column, so every entry point reports it the same way.
public enum DocumentParser {
    public enum Format: Sendable {
        case json
        case yaml
        /// JSON when the text starts with `[` or `{`, else YAML.
        case automatic

        public static func forPath(_ path: String) -> Format {
            let lower = path.lowercased()
            if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return .yaml }
            if lower.hasSuffix(".json") { return .json }
            return .automatic
        }
    }

    public static func parse(_ bytes: [UInt8], format: Format) -> Result<JSON, ValidationFailure> {
        var format = format
        if format == .automatic {
            let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
            format = first == UInt8(ascii: "[") || first == UInt8(ascii: "{") ? .json : .yaml
        }
        switch format {
        case .json, .automatic:
            do {
                return .success(try JSONParser.parse(bytes))
            } catch {
                return .failure(ValidationFailure([.error("", "invalid JSON at line \(error.line), column \(error.column): \(error.message)")]))
            }
        case .yaml:
            return parseYAML(String(decoding: bytes, as: UTF8.self))
        }
    }

    public static func parse(_ text: String, format: Format) -> Result<JSON, ValidationFailure> {
        parse(Array(text.utf8), format: format)
    }

    static func parseYAML(_ text: String) -> Result<JSON, ValidationFailure> {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return .failure(ValidationFailure([.error("", "the YAML document is empty")]))
            }
            return .success(json(from: node))
        } catch let error as YamlError {
            return .failure(ValidationFailure([.error("", describe(error))]))
        } catch {
            return .failure(ValidationFailure([.error("", "invalid YAML: \(error)")]))
        }
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let where_ = context.map { " (\($0.text))" } ?? ""
            return "invalid YAML at line \(mark.line), column \(mark.column): \(problem)\(where_)"
        case .reader(let problem, let offset, _, _):
            return "invalid YAML\(offset.map { " at byte \($0)" } ?? ""): \(problem)"
        default:
            return "invalid YAML: \(error)"
        }
    }

    static func json(from node: Node) -> JSON {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSON.bool) ?? .string(scalar.string)
            case .int: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case .float: return node.float.map(JSON.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                object[key.string ?? key.any as? String ?? "\(key)"] = json(from: value)
            }
            return .object(object)
        case .sequence(let sequence):
            return .array(sequence.map(json(from:)))
        case .alias:
            return .null
        }
    }
}
