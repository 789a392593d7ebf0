import Foundation
import PlanterCore
import PlanterJSON

@testable import PlanterHost

/// The ways a user may write the same manifest: key case (camelCase, PascalCase at the phase
/// level with snake_case inside, or any mix per key), as JSON or YAML. Each also draws the
/// optional liberties at random: a `{"phases": …}` wrapper, numbers as numeric strings,
/// bare waitFor lists, a single string for a list of one, other duration
/// forms, `messages` for `message`, upper-case enum values and shuffled keys.
enum Spelling: CaseIterable {
    case camelJSON, pascalSnakeJSON, mixedJSON, camelYAML, pascalSnakeYAML, mixedYAML

    var isYAML: Bool { [.camelYAML, .pascalSnakeYAML, .mixedYAML].contains(self) }
}

extension Random {
    mutating func spell(_ canonical: JSON) -> Spelled { spell(canonical, as: pick(Spelling.allCases)) }

    mutating func spell(_ canonical: JSON, as spelling: Spelling) -> Spelled {
        var respelled = JSON.array((canonical.arrayValue ?? []).map { respellPhase($0, spelling) })
        if chance(0.3) { respelled = .object(JSONObject([(key("phases", spelling, depth: 0), respelled)])) }
        if spelling.isYAML { return Spelled(text: YAMLText.write(respelled), format: pick([.yaml, .automatic])) }
        var writer = JSONWriter(pretty: chance(0.5))
        writer.write(respelled)
        return Spelled(text: writer.string, format: pick([.json, .automatic]))
    }

    mutating func key(_ camel: String, _ spelling: Spelling, depth: Int) -> String {
        let snake = camel.reduce(into: "") { $0 += $1.isUppercase ? "_" + $1.lowercased() : String($1) }
        let pascal = camel.prefix(1).uppercased() + camel.dropFirst()
        switch spelling {
        case .camelJSON, .camelYAML: return camel
        case .pascalSnakeJSON, .pascalSnakeYAML: return depth == 0 ? pascal : snake
        case .mixedJSON, .mixedYAML:
            let pascalSnake = snake.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "_")
            return pick([camel, pascal, snake, snake.uppercased(), pascalSnake, snake.replacingOccurrences(of: "_", with: "-")])
        }
    }

    /// Renames the known fields of `object` (x- keys stay verbatim), maybe shuffling them.
    mutating func respell(_ object: JSONObject, _ spelling: Spelling, depth: Int,
                          value: (inout Random, String, JSON) -> JSON = { _, _, value in value }) -> JSON {
        var members = object.members.map { member in
            member.key.hasPrefix("x-") ? member
                : JSONObject.Member(key: key(member.key, spelling, depth: depth), value: value(&self, member.key, member.value))
        }
        if chance(0.3) { members.shuffle(using: &self) }
        return .object(JSONObject(members))
    }

    mutating func respellPhase(_ phase: JSON, _ spelling: Spelling) -> JSON {
        respell(phase.objectValue!, spelling, depth: 0) { random, name, value in
            switch name {
            case "id": return value  // an id is text: a number there is an error, not a spelling
            case "spec": return random.respellSpec(value.objectValue!, spelling)
            default: return value
            }
        }
    }

    mutating func respellSpec(_ spec: JSONObject, _ spelling: Spelling) -> JSON {
        respell(spec, spelling, depth: 1) { random, name, value in
            switch name {
            case "selector": return random.respell(value.objectValue!, spelling, depth: 2)
            case "instanceMode": return .string(random.enumValue(value.stringValue!))
            case "waitFor":
                let object = value.objectValue!
                if object.count == 1, random.chance(0.5) { return object["phases"]! }  // a bare list
                return random.respell(object, spelling, depth: 2) { random, name, value in
                    name == "timeout" ? random.duration(value) : random.list(value)
                }
            case "retry":
                return random.respell(value.objectValue!, spelling, depth: 2) { random, _, value in
                    random.chance(0.4) ? .string(value.serialized) : value
                }
            case "onFailure", "onSuccess": return random.respellHandler(value.objectValue!, spelling)
            default: return value
            }
        }
    }

    mutating func respellHandler(_ handler: JSONObject, _ spelling: Spelling) -> JSON {
        respell(handler, spelling, depth: 2) { random, name, value in
            switch name {
            case "action":
                // Actions are matched after lower-casing.
                let forms: [(String) -> String] = [{ $0 }, { $0.uppercased() }, { $0.prefix(1).uppercased() + $0.dropFirst() }]
                return .string(random.pick(forms)(value.stringValue!))
            case "spec":
                var object = value.objectValue!
                if let message = object["message"], random.chance(0.4) {
                    object = JSONObject(object.members.map {
                        $0.key == "message" ? JSONObject.Member(key: "messages", value: message) : $0
                    })
                }
                return random.respell(object, spelling, depth: 3) { random, name, value in
                    switch name {
                    case "message", "messages": return random.list(value)
                    case "notify": return random.respell(value.objectValue!, spelling, depth: 4) { random, _, value in random.list(value) }
                    default: return value
                    }
                }
            default: return value
            }
        }
    }

    /// A list of one string may be written as that string.
    mutating func list(_ value: JSON) -> JSON {
        if let elements = value.arrayValue, elements.count == 1, chance(0.4) { return elements[0] }
        return value
    }

    mutating func enumValue(_ camel: String) -> String {
        let snake = camel.reduce(into: "") { $0 += $1.isUppercase ? "_" + $1.lowercased() : String($1) }
        return pick([camel, snake, camel.uppercased(), camel.prefix(1).uppercased() + camel.dropFirst()])
    }

    /// `90s` may be written `90` (seconds), `90000ms` or `1m30s`.
    mutating func duration(_ value: JSON) -> JSON {
        let ms = PlanDuration(parsing: value.stringValue!)!.milliseconds
        var compound = ""
        var rest = ms
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            compound += "\(rest / size)\(unit)"
            rest %= size
        }
        return pick([value, .string("\(ms)ms"), .string(compound.isEmpty ? "0s" : compound),
                     ms % 1000 == 0 ? .int(ms / 1000) : .double(Double(ms) / 1000)])
    }
}

/// Block-style YAML with every key and string double-quoted, so no text is read as a
/// number, boolean or null and no character needs the writer to know YAML's plain rules.
enum YAMLText {
    static func write(_ value: JSON) -> String {
        var out = "# generated\n"
        block(value, indent: 0, into: &out)
        return out
    }

    static func block(_ value: JSON, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .array(let elements) where !elements.isEmpty:
            for element in elements {
                if let inline = inline(element) {
                    out += "\(pad)- \(inline)\n"
                } else {
                    out += "\(pad)-\n"
                    block(element, indent: indent + 2, into: &out)
                }
            }
        case .object(let object) where !object.isEmpty:
            for member in object {
                if let inline = inline(member.value) {
                    out += "\(pad)\(quoted(member.key)): \(inline)\n"
                } else {
                    out += "\(pad)\(quoted(member.key)):\n"
                    block(member.value, indent: indent + 2, into: &out)
                }
            }
        default:
            out += pad + inline(value)! + "\n"
        }
    }

    /// Scalars and empty containers fit on the line of their key.
    static func inline(_ value: JSON) -> String? {
        switch value {
        case .string(let text): return quoted(text)
        case .array(let elements): return elements.isEmpty ? "[]" : nil
        case .object(let object): return object.isEmpty ? "{}" : nil
        default: return value.serialized
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
