import Foundation
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

func run(_ plan: Plan, parallel: Int = 1, backoff: BackoffPolicy? = nil, masker: SecretMasker = SecretMasker(secrets: []))
    -> (RunResult, [RunEvent])
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
    let result = Runner(plan: plan, options: options, sinks: [recorder]).runBlocking()
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

/// Waits until cancelled (or a limit passes), like a process that runs until killed.
func waitForCancel(_ call: CallContext, limit: Double = 10) -> ExecuteResult {
    let deadline = Date().addingTimeInterval(limit)
    while !call.isCancelled && Date() < deadline { usleep(2000) }
    return call.isCancelled ? ExecuteResult(status: .cancelled, message: "stopped") : .failed("never cancelled")
}

extension RunResult {
    func phase(_ id: String) -> PhaseRecord { phases.first { $0.id == id }! }
}
