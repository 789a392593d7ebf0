import PlanterJSON

/// `-o yaml`: a JSON value as block-style YAML. Written here rather than through Yams so that no
/// command loads more than it did; the value is JSON, so a few rules cover it: strings that could
/// read as another type (`true`, `1.5`, `null`, a date) or hold YAML syntax are double-quoted
/// (JSON's escapes are YAML's), multi-line strings are literal blocks, keys keep their order.
package enum YAMLText {
    package static func render(_ value: JSON) -> String {
        lines(value).map { $0.allSatisfy { $0 == " " } ? "" : $0 }.joined(separator: "\n") + "\n"
    }

    /// The value's lines at indentation 0; a scalar is one line unless it is a literal block
    /// (its header first, then the content, which the caller indents under its key or dash).
    private static func lines(_ value: JSON) -> [String] {
        switch value {
        case .object(let object):
            if object.isEmpty { return ["{}"] }
            var result: [String] = []
            for member in object {
                let key = scalar(member.key)
                let nested = lines(member.value)
                if isBlock(member.value) {
                    result.append(key + ":")
                    result += nested.map { "  " + $0 }
                } else {
                    result.append(key + ": " + nested[0])
                    result += nested.dropFirst().map { "  " + $0 }
                }
            }
            return result
        case .array(let array):
            if array.isEmpty { return ["[]"] }
            var result: [String] = []
            for element in array {
                let nested = lines(element)
                result.append("- " + nested[0])
                result += nested.dropFirst().map { "  " + $0 }
            }
            return result
        case .string(let text):
            if let block = literalBlock(text) { return block }
            return [scalar(text)]
        case .null: return ["null"]
        case .double:
            // YAML 1.1 readers (PyYAML) take `1e+20` for a string: a float needs its dot.
            let text = value.serialized
            guard !text.contains("."), let exponent = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return [text] }
            return [text[..<exponent] + ".0" + text[exponent...]]
        default: return [value.serialized]
        }
    }

    /// A non-empty collection goes on the lines after its key.
    private static func isBlock(_ value: JSON) -> Bool {
        switch value {
        case .object(let object): return !object.isEmpty
        case .array(let array): return !array.isEmpty
        default: return false
        }
    }

    /// `|` (one final newline) or `|-` (none) with the text's lines, when the text has several lines
    /// and nothing a literal block cannot hold as is: other control characters, whitespace at the
    /// start of the first line with text (it would set the indentation) or at the end of a line,
    /// several final newlines, no text at all.
    private static func literalBlock(_ text: String) -> [String]? {
        guard text.contains("\n"), !text.hasSuffix("\n\n"),
            text.unicodeScalars.allSatisfy({ $0 == "\n" || $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) })
        else { return nil }
        var body = text
        let header = body.hasSuffix("\n") ? "|" : "|-"
        if body.hasSuffix("\n") { body.removeLast() }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first(where: { !$0.isEmpty }), first.first != " ", first.first != "\t",
            lines.allSatisfy({ $0.last != " " && $0.last != "\t" })
        else { return nil }
        return [header] + lines.map(String.init)
    }

    /// Plain when it is unambiguous text; else double-quoted.
    package static func scalar(_ text: String) -> String {
        isPlain(text) ? text : JSON.string(text).serialized
    }

    private static let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    private static func isPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        // Letters first: no number, date, sign, indicator (-, ?, :, !, &, *, …) or quote can start it.
        guard (first >= "a" && first <= "z") || (first >= "A" && first <= "Z") || first == "_" || first == "/" else { return false }
        guard last != " ", !reserved.contains(text.lowercased()) else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || "_-./ @+()".unicodeScalars.contains(scalar)
        }
    }
}
