import ExecutorRuntime
import PlanterCore
import PlanterDocument
import PlanterJSON

/// Executors whose phases run outside this process and are reached over NATS: a runtime on
/// the run's session (the protocol's hybrid model) or a pool of `planter worker`s. The
/// deployment names them; the server, which holds the NATS connection, makes them (an
/// `ExternalExecutorFactory`). Without one (no NATS_URL, or `planter run`) they are
/// unavailable, and a plan that uses one is invalid, saying why.
extension ExecutorDefinition {
    public enum External: Sendable, Equatable {
        /// `session: {runtime: true, ackTimeout: 10s}`: each phase is proposed on the run's
        /// session (`.target`), accepted by the runtime (`.ack`), and its `.state` and `.log`
        /// messages are the phase's progress and output.
        case sessionRuntime(ackTimeout: PlanDuration?)
        /// `remote: {pool: NAME, scheduleTimeout: 60s, lease: 30s}`: a `planter worker` of pool NAME
        /// runs it; no worker within `scheduleTimeout` fails the attempt, and so does a worker
        /// silent for `lease`.
        case remotePool(String, scheduleTimeout: PlanDuration?, lease: PlanDuration?)

        /// The binding's plugin name, for answers and metrics.
        public var pluginName: String {
            switch self {
            case .sessionRuntime: return "session-runtime"
            case .remotePool(let pool, _, _): return "remote:\(pool)"
            }
        }
    }
}

/// Makes the executor for an external definition, or says why it cannot.
public typealias ExternalExecutorFactory = @Sendable (ExecutorDefinition, ExecutorDefinition.External) -> Result<any Executor, ExternalExecutorUnavailable>

public struct ExternalExecutorUnavailable: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Deployment {
    /// `session: {runtime: true, ackTimeout: D}` or `remote: {pool: NAME, scheduleTimeout: D}`, instead of a plugin.
    static func decodeExternalFields(_ reader: inout ObjectReader, into definition: inout ExecutorDefinition, problems: inout Problems) {
        if let (value, path) = reader.take("session") {
            var inner = ObjectReader(value.objectValue ?? JSONObject(), path: path, problems: &problems)
            if value.objectValue == nil { problems.error(path, "session must be an object: {runtime: true}") }
            var runtime = false
            if let (flag, flagPath) = inner.take("runtime") {
                if let bool = flag.boolValue { runtime = bool } else { problems.error(flagPath, "runtime is true or false") }
            }
            var ackTimeout: PlanDuration?
            if let (timeout, timeoutPath) = inner.take("acktimeout") {
                ackTimeout = positive(FieldReader.duration(timeout, timeoutPath, &problems, what: "ackTimeout"), timeoutPath, &problems)
            }
            inner.finish(&problems, known: "runtime, ackTimeout", severity: .error)
            if runtime { definition.external = .sessionRuntime(ackTimeout: ackTimeout) }
            else if value.objectValue != nil { problems.error(JSONPointer.append(path, "runtime"), "session executors need runtime: true") }
        }
        if let (value, path) = reader.take("remote") {
            var inner = ObjectReader(value.objectValue ?? JSONObject(), path: path, problems: &problems)
            if value.objectValue == nil { problems.error(path, "remote must be an object: {pool: NAME}") }
            var pool = ""
            if let (name, namePath) = inner.take("pool") {
                pool = FieldReader.string(name, namePath, &problems, what: "pool") ?? ""
                if !pool.isEmpty, let problem = poolProblem(pool) { problems.error(namePath, problem) }
            }
            if pool.isEmpty && value.objectValue != nil { problems.error(JSONPointer.append(path, "pool"), "remote executors need a pool name") }
            var scheduleTimeout: PlanDuration?
            if let (timeout, timeoutPath) = inner.take("scheduletimeout") {
                scheduleTimeout = positive(FieldReader.duration(timeout, timeoutPath, &problems, what: "scheduleTimeout"), timeoutPath, &problems)
            }
            var lease: PlanDuration?
            if let (timeout, timeoutPath) = inner.take("lease") {
                lease = positive(FieldReader.duration(timeout, timeoutPath, &problems, what: "lease"), timeoutPath, &problems)
            }
            inner.finish(&problems, known: "pool, scheduleTimeout, lease", severity: .error)
            if definition.external != nil { problems.error(path, "an executor has either session or remote, not both") }
            if !pool.isEmpty { definition.external = .remotePool(pool, scheduleTimeout: scheduleTimeout, lease: lease) }
        }
        if definition.external != nil, !definition.plugin.isEmpty || definition.command != nil || definition.isolation != .inProcess {
            problems.error(definition.path, "an executor served over NATS (session or remote) has no plugin, command or isolation")
        }
    }

    /// A pool name is one NATS subject token and a JetStream consumer name: letters, digits, `-`, `_`, at most 64.
    public static func poolProblem(_ name: String) -> String? {
        let ok = (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        return ok ? nil : "a pool name has 1 to 64 letters, digits, - and _ (it names a NATS subject and a JetStream consumer)"
    }

    private static func positive(_ duration: PlanDuration?, _ path: String, _ problems: inout Problems) -> PlanDuration? {
        guard let duration else { return nil }
        if duration.milliseconds <= 0 { problems.error(path, "must be more than 0") }
        return duration.milliseconds > 0 ? duration : nil
    }
}
