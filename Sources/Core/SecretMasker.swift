import PlanterJSON

/// Replaces secret values with `***` in anything Planter records or shows.
public struct SecretMasker: Sendable {
    public let secrets: [String]

    public init(secrets: [String]) {
        // Longest first, so a secret containing another is masked whole; empty ones mask nothing.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    public var isEmpty: Bool { secrets.isEmpty }

    public func mask(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacing(secret, with: "***")
        }
        return text
    }

    public func mask(_ json: JSON) -> JSON {
        guard !secrets.isEmpty else { return json }
        switch json {
        case .string(let s): return .string(mask(s))
        case .array(let a): return .array(a.map(mask))
        case .object(let o): return .object(JSONObject(o.members.map { JSONObject.Member(key: $0.key, value: mask($0.value)) }))
        default: return json
        }
    }
}
