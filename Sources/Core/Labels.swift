import PlanterJSON

/// A phase's `matchLabels`: string keys and values, kept in the order written so they
/// round-trip as written, compared without regard to order.
public struct Labels: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Label: Sendable, Hashable {
        public var key: String
        public var value: String
    }

    public private(set) var pairs: [Label] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (key, value) in elements { self[key] = value }
    }

    public init(_ pairs: [(String, String)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var isEmpty: Bool { pairs.isEmpty }
    public var count: Int { pairs.count }

    public subscript(key: String) -> String? {
        get {
            for pair in pairs where pair.key == key { return pair.value }
            return nil
        }
        set {
            if let index = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append(Label(key: key, value: newValue))
            }
        }
    }

    /// Appends a key known not to be here yet (the keys of a parsed JSON object are unique).
    package mutating func appendUnchecked(_ key: String, _ value: String) { pairs.append(Label(key: key, value: value)) }

    /// True when every label of `required` is present here with the same value.
    public func contains(all required: Labels) -> Bool {
        if required.count > 16 && count > 16 {  // hashed: label sets from API clients can be large
            var values: [String: String] = [:]
            for pair in pairs where values[pair.key] == nil { values[pair.key] = pair.value }
            return required.pairs.allSatisfy { values[$0.key] == $0.value }
        }
        return required.pairs.allSatisfy { self[$0.key] == $0.value }
    }

    public func makeIterator() -> IndexingIterator<[Label]> { pairs.makeIterator() }

    public var json: JSON { .object(JSONObject(pairs.map { JSONObject.Member(key: $0.key, value: .string($0.value)) })) }

    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        lhs.count == rhs.count && lhs.contains(all: rhs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Set(pairs))
    }
}
