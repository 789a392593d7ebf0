import PlanterCore
import PlanterJSON

public struct RunOptions: Sendable {
    public var runId: String
    /// Phases running at once.
    public var parallel: Int
    /// Which phases this run executes (by index); nil = all. Phases left out are reported
    /// as skipped with `unselectedMessage`, and count as satisfied for their dependents.
    public var selection: [Bool]?
    public var unselectedMessage = "not selected for this run"
    /// Outputs of phases outside the run that selected phases wait for (by phase id).
    public var previousOutputs: [String: JSONObject] = [:]
    public var backoff = BackoffPolicy()
    public var outputTailBytes = 64 * 1024
    public var masker = SecretMasker(secrets: [])
    /// This Planter's instance token, handed to executors with every request: the processes
    /// they start carry it (PLANTER_OWNER), so a restart can kill what a crash left behind.
    public var owner: String?
    /// The namespace the run belongs to (nil: `planter run`); handed to executors with every request.
    public var namespace: String?
    /// Slots shared with other runs (other namespaces'), taken before each attempt; nil: only `parallel` limits.
    public var capacity: (pool: CapacityPool, lane: String)?
    /// Asked before each attempt starts; while it says no, ready phases wait (a Planter that
    /// cannot renew its lease starts no new phase; running ones finish). Nil: always yes.
    public var mayStartPhase: (@Sendable () -> Bool)?
    /// Random numbers in 0..<1 for backoff jitter; replaceable so tests are exact.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }

    public init(runId: String = RunOptions.newRunID(), parallel: Int = RunOptions.defaultParallel) {
        self.runId = runId
        self.parallel = max(1, parallel)
    }

    /// The number of cores.
    public static var defaultParallel: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// `r-20261129T100405-1a2b3c`: sortable by time, unique enough for one host.
    public static func newRunID() -> String {
        let stamp = Timestamp.now().iso8601.filter { $0.isNumber || $0 == "T" }.prefix(15)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "r-\(stamp)-\(suffix)"
    }
}

#if canImport(Glibc)
import Glibc
#endif
