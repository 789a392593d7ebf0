/// The subjects and streams of one namespace's worker pools, under `PLANTER_NATS_PREFIX`:
/// `<prefix>planter.<namespace>.work.<pool>` in the work-queue stream
/// `PLANTER_WORK_[<prefix tag>_]<namespace>` (one durable consumer per pool). Each namespace has
/// its own stream, so a worker of namespace A (which binds A's stream) never takes B's work, and
/// NATS permissions can be given per namespace on `<prefix>planter.<namespace>.>`.
public struct WorkSubjects: Sendable, Hashable {
    /// Empty, or ending in ".".
    public let prefix: String
    public let namespace: String

    public init(prefix: String, namespace: String) {
        self.prefix = prefix.isEmpty || prefix.hasSuffix(".") ? prefix : prefix + "."
        self.namespace = namespace
    }

    private var root: String { prefix + "planter." + namespace + "." }

    public var workStream: String { "PLANTER_WORK_" + Self.streamTag(prefix) + namespace }
    public func workSubject(_ pool: String) -> String { root + "work." + pool }
    public var workSubjects: String { root + "work.*" }
    /// JetStream's notice that a work item of `workStream` ran out of deliveries (any pool's consumer).
    public var maxDeliveriesAdvisories: String { "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + workStream + ".*" }
    public func resultSubject(_ dispatchId: String) -> String { root + "result." + dispatchId }
    /// Core NATS (lossy, live): a dispatch's `started`, `output` and `heartbeat` events.
    public func eventSubject(_ dispatchId: String) -> String { root + "dispatch." + dispatchId }
    /// Request/reply: cancel a dispatch; the worker running it confirms.
    public func controlSubject(_ dispatchId: String) -> String { root + "control." + dispatchId }
    public var controlSubjects: String { root + "control.*" }
    /// Request/reply: cancel every dispatch of a run (a restarted Planter, before it resumes the
    /// run); each worker answers how many it cancels.
    public func runControlSubject(_ runId: String) -> String { root + "control.run." + runId }
    public var runControlSubjects: String { root + "control.run.*" }
    /// Every worker's presence, every couple of seconds (`GET /workers`).
    public var presenceSubject: String { root + "workers" }

    // MARK: Every namespace under one prefix (what a Planter, which serves them all, listens to)

    /// The results of every namespace go to one stream per prefix, read by one consumer.
    public static func resultStream(prefix: String) -> String { "PLANTER_RESULTS" + (prefix.isEmpty ? "" : "_" + streamTag(prefix).dropLast()) }
    public static func resultSubjects(prefix: String) -> String { normalized(prefix) + "planter.*.result.*" }
    public static func eventSubjects(prefix: String) -> String { normalized(prefix) + "planter.*.dispatch.*" }
    public static func presenceSubjects(prefix: String) -> String { normalized(prefix) + "planter.*.workers" }
    /// Where workers of work protocol 1 (one stream for all namespaces) announced themselves:
    /// heard only to say they get no work from this Planter.
    public static func legacyPresenceSubject(prefix: String) -> String { normalized(prefix) + "planter.workers" }
    public static let resultConsumer = "planter"

    /// The namespace of a subject under `prefix` (`<prefix>planter.<namespace>.…`).
    public static func namespace(of subject: String, prefix: String) -> String? {
        let head = normalized(prefix) + "planter."
        guard subject.hasPrefix(head) else { return nil }
        return subject.dropFirst(head.count).split(separator: ".", maxSplits: 1).first.map(String.init)
    }

    private static func normalized(_ prefix: String) -> String { prefix.isEmpty || prefix.hasSuffix(".") ? prefix : prefix + "." }

    /// A stream name has no dots: the prefix's tokens joined by `_` (other characters a stream name
    /// may not hold become `_` too), then `_`.
    static func streamTag(_ prefix: String) -> String {
        var tag = ""
        for byte in normalized(prefix).utf8 {
            let keep = (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte) || byte == UInt8(ascii: "-")
            tag.append(keep ? Character(UnicodeScalar(byte)) : "_")
        }
        return tag
    }

    /// `PLANTER_NATS_PREFIX`: NATS subject tokens (no spaces, wildcards or empty tokens).
    public static func prefixProblem(_ prefix: String) -> String? {
        let trimmed = prefix.hasSuffix(".") ? String(prefix.dropLast()) : prefix
        if trimmed.isEmpty { return nil }
        for token in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            if token.isEmpty || token.utf8.contains(where: { $0 <= 32 || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") || $0 >= 127 }) {
                return "PLANTER_NATS_PREFIX \"\(prefix)\" is not a NATS subject prefix (tokens of letters, digits, - and _, joined by dots)"
            }
        }
        return nil
    }
}
