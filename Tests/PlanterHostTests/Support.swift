import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON
import Synchronization

@testable import PlanterHost

/// Builds a Plan from manifest JSON text with the given in-process executors, failing the
/// test with every problem when it does not validate.
func makePlan(_ text: String, executors: [String: any Executor] = [:], deployment: Deployment = Deployment()) throws -> Plan {
    var deployment = deployment
    for name in executors.keys where !deployment.executors.contains(where: { $0.name == name }) {
        deployment.executors.append(ExecutorDefinition(name: name, plugin: name))
    }
    let registry = ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), builtIns: executors, environment: [:])
    switch PlanValidator.validate(text: Array(text.utf8), format: .automatic, registry: registry) {
    case .success(let plan): return plan
    case .failure(let failure): throw failure
    }
}

func problems(_ text: String, deployment: Deployment = Deployment(), format: DocumentParser.Format = .automatic) -> [Problem] {
    let registry = ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), environment: [:])
    switch PlanValidator.validate(text: Array(text.utf8), format: format, registry: registry) {
    case .success(let plan): return plan.warnings
    case .failure(let failure): return failure.problems
    }
}

func run(_ plan: Plan, parallel: Int = 1, backoff: BackoffPolicy? = nil, masker: SecretMasker = SecretMasker(secrets: []),
         sinks: [any EventSink] = []) -> (RunResult, [RunEvent])
{
    let recorder = EventRecorder()
    var options = RunOptions(runId: "r-test", parallel: parallel)
    var policy = backoff ?? BackoffPolicy()
    if backoff == nil {
        policy.initialDelay = PlanDuration(milliseconds: 5)
        policy.jitter = 0
    }
    options.backoff = policy
    options.masker = masker
    options.random = { 0.5 }
    let result = Runner(plan: plan, options: options, sinks: [recorder] + sinks).runBlocking()
    return (result, recorder.events)
}

final class EventRecorder: EventSink {
    private let storage = Mutex<[RunEvent]>([])
    var events: [RunEvent] { storage.withLock { $0 } }
    func receive(_ event: RunEvent) { storage.withLock { $0.append(event) } }
}

/// An in-process executor driven by a closure, to observe scheduling from the inside.
struct ScriptedExecutor: Executor {
    let body: @Sendable (ExecuteRequest, CallContext) -> ExecuteResult
    init(_ body: @escaping @Sendable (ExecuteRequest, CallContext) -> ExecuteResult) { self.body = body }
    func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult { body(request, call) }
}

/// Records start/end order and the highest number of calls in flight at once.
final class Tracker: Sendable {
    private let state = Mutex<(order: [String], running: Int, peak: Int)>(([], 0, 0))
    var order: [String] { state.withLock { $0.order } }
    var peak: Int { state.withLock { $0.peak } }

    func enter(_ id: String) {
        state.withLock { s in
            s.order.append(id)
            s.running += 1
            s.peak = max(s.peak, s.running)
        }
    }

    func leave() { state.withLock { $0.running -= 1 } }
}

/// A rendezvous: each arrival waits until `count` calls have arrived, then all go on (later
/// arrivals pass at once). If they do not all arrive within `timeout` seconds (generous: only
/// a broken behaviour gets there), the barrier breaks, every waiter goes on and `broken` tells
/// the test; so a test that needs overlap fails instead of hanging.
final class Barrier: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    private let condition = NSCondition()
    private var arrived = 0
    private var isBroken = false
    let count: Int
    let timeout: Double

    init(count: Int, timeout: Double = 30) {
        self.count = count
        self.timeout = timeout
    }

    var broken: Bool { condition.withLock { isBroken } }

    /// True when all `count` arrived.
    @discardableResult
    func arriveAndWait() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= count {
            condition.broadcast()
            return true
        }
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < count && !isBroken {
            if !condition.wait(until: deadline) {
                isBroken = true
                condition.broadcast()
            }
        }
        return arrived >= count
    }
}

/// A one-way signal between threads: `wait` returns true once `signal` has been called,
/// false after `timeout` seconds (a generous guard against a hang, not a measurement).
final class Latch: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let fired = Mutex(false)

    func signal() {
        let first = fired.withLock { fired in
            defer { fired = true }
            return !fired
        }
        if first { semaphore.signal() }
    }

    func wait(timeout: Double = 30) -> Bool {
        guard semaphore.wait(timeout: .now() + timeout) == .success else { return false }
        semaphore.signal()  // stays open for later waiters
        return true
    }
}

/// Opens when the first event that `matches` arrives, so a phase body can wait for the run to get there.
final class EventTrigger: EventSink {
    private let matches: @Sendable (RunEvent) -> Bool
    private let latch = Latch()
    init(_ matches: @escaping @Sendable (RunEvent) -> Bool) { self.matches = matches }
    func receive(_ event: RunEvent) { if matches(event) { latch.signal() } }
    /// Waits for the event (false if it has not come within `timeout` seconds).
    func wait(timeout: Double = 30) -> Bool { latch.wait(timeout: timeout) }
}

/// Waits until cancelled (or a limit passes), like a process that runs until killed.
func waitForCancel(_ call: CallContext, limit: Double = 10) -> ExecuteResult {
    let deadline = Date().addingTimeInterval(limit)
    while !call.isCancelled && Date() < deadline { usleep(2000) }
    return call.isCancelled ? ExecuteResult(status: .cancelled, message: "stopped") : .failed("never cancelled")
}

extension RunResult {
    func phase(_ id: String) -> PhaseRecord { phases.first { $0.id == id }! }
}

/// Polls `condition` until it holds or `seconds` pass (generous: a loaded machine is slow,
/// and only a broken behaviour waits that long).
func eventually(within seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
