import PlanterDeployment
import PlanterWorkers

/// The Phase Manifest Protocol's session subjects (PROTOCOL.md), per namespace:
/// `<prefix>plan.session.<id>.<kind>` for `default` (with no prefix: the protocol's subjects as
/// written) and `<prefix><namespace>.plan.session.<id>.<kind>` for another namespace.
/// `PLANTER_NATS_PREFIX` sets the prefix; NATS permissions on these subjects are what guard them.
struct SessionSubjects: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case start, control, state, log, events, target, ack
        case getState = "get_state"
        case diff
    }

    /// Empty, or ending in ".".
    let prefix: String

    init(prefix: String) {
        self.prefix = prefix.isEmpty || prefix.hasSuffix(".") ? prefix : prefix + "."
    }

    /// `PLANTER_NATS_PREFIX`: NATS subject tokens (no spaces, wildcards or empty tokens); the
    /// worker pools' subjects share the prefix, so one rule checks it for both.
    static func prefixProblem(_ prefix: String) -> String? { WorkSubjects.prefixProblem(prefix) }

    func subject(_ namespace: String, _ session: String, _ kind: Kind) -> String {
        root(namespace) + session + "." + kind.rawValue
    }

    private func root(_ namespace: String) -> String {
        prefix + (namespace == NamespaceName.default ? "" : namespace + ".") + "plan.session."
    }

    /// What to subscribe to for messages of `kind` in every namespace.
    func wildcards(_ kind: Kind) -> [String] {
        [prefix + "plan.session.*." + kind.rawValue, prefix + "*.plan.session.*." + kind.rawValue]
    }

    /// Every session message of every namespace.
    var everyKind: [String] {
        [prefix + "plan.session.*.*", prefix + "*.plan.session.*.*"]
    }

    /// The namespace, session and kind of a subject this Planter subscribed to; nil for any
    /// other (a namespace or session id that breaks the rules, an unknown kind).
    func parse(_ subject: String) -> (namespace: String, session: String, kind: Kind)? {
        guard subject.hasPrefix(prefix) else { return nil }
        let tokens = subject.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        let namespace: Substring
        let rest: ArraySlice<Substring>
        switch tokens.count {
        case 4: (namespace, rest) = (Substring(NamespaceName.default), tokens[...])
        case 5: (namespace, rest) = (tokens[0], tokens[1...])
        default: return nil
        }
        let parts = Array(rest)
        guard parts[0] == "plan", parts[1] == "session", let kind = Kind(rawValue: String(parts[3])),
            Self.sessionProblem(parts[2]) == nil, NamespaceName.problem(namespace) == nil
        else { return nil }
        return (String(namespace), String(parts[2]), kind)
    }

    /// A session id is one subject token: 1…128 of letters, digits, `-` and `_`.
    static func sessionProblem(_ id: Substring) -> String? {
        guard !id.isEmpty, id.utf8.count <= 128 else { return "a session id has 1 to 128 characters" }
        let allowed = id.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        return allowed ? nil : "a session id is letters, digits, - and _ (it is one NATS subject token)"
    }
}
