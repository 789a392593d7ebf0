import Foundation
import PlanterCore
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
            return YAMLDocument.parse(bytes)
        }
    }

    public static func parse(_ text: String, format: Format) -> Result<JSON, ValidationFailure> {
        parse(Array(text.utf8), format: format)
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let where_ = context.map { " (\($0.text))" } ?? ""
            return "invalid YAML at line \(mark.line), column \(mark.column): \(problem)\(where_)"
        case .reader(let problem, let offset, _, _):
            return "invalid YAML\(offset.map { " at byte \($0)" } ?? ""): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Not `\(error)`: its context text is the whole document.
            let keys = duplicates.prefix(5).map { "\"\($0.prefix(60))\"" }.joined(separator: ", ")
            return "invalid YAML at line \(context.mark.line), column \(context.mark.column): the key \(keys) is given more than once in one mapping"
        default:
            return "invalid YAML: \(String(describing: error).prefix(300))"
        }
    }
}
