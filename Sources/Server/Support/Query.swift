import Hummingbird
import HummingbirdCore

/// Query options, read once per request. Booleans: `true`/`1`/`yes` or bare (`?wait`),
/// `false`/`0`/`no`; anything else is a 400 naming the parameter.
struct Query {
    private let parameters: FlatDictionary<Substring, Substring>

    init(_ request: Request) {
        parameters = request.uri.query == nil ? [:] : request.uri.queryParameters
    }

    func string(_ name: Substring) -> String? {
        guard let value = parameters[name] else { return nil }
        return value.isEmpty ? nil : String(value)
    }

    func bool(_ name: Substring) throws(APIError) -> Bool {
        guard let value = parameters[name] else { return false }
        switch value.lowercased() {
        case "", "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw APIError.badParameter(String(name), "expected true or false, got \"\(value)\"")
        }
    }

    func int(_ name: Substring, minimum: Int = 0) throws(APIError) -> Int? {
        guard let value = parameters[name], !value.isEmpty else { return nil }
        guard let number = Int(value), number >= minimum else {
            throw APIError.badParameter(String(name), "expected a whole number ≥ \(minimum), got \"\(value)\"")
        }
        return number
    }
}
