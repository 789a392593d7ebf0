import ExecutorRuntime
import PlanterDeployment
import PlanterJSON

extension RunEngine {
    /// Locked. The request for one attempt of a phase: its payload and labels, the outputs of
    /// what it waits for as `inputs` (previous outputs for phases this run does not include),
    /// the secrets granted to its executor, and the owner tag for crash recovery.
    func makeRequest(_ index: Int, attempt: Int, binding: ExecutorBinding) -> ExecuteRequest {
        let phase = plan.phases[index]
        var inputs = JSONObject()
        for dependency in plan.graph.dependencies[index] {
            let id = records[dependency].id
            let outputs = included[dependency] ? records[dependency].outputs : (options.previousOutputs[id] ?? JSONObject())
            inputs.appendUnchecked(id, .object(outputs))
        }
        var request = ExecuteRequest(
            runId: options.runId, phaseId: phase.id, executor: binding.name, description: phase.spec.description ?? "",
            labels: phase.spec.labels, attempt: attempt, maxAttempts: maxAttempts(index),
            payload: phase.spec.run ?? .object(JSONObject()), dryRun: false,
            timeoutMs: phase.spec.executionTimeout.map { Int($0.milliseconds) }, inputs: inputs, secrets: binding.secrets)
        request.owner = options.owner
        request.namespace = options.namespace
        request.scheduleTimeoutMs = phase.spec.scheduleTimeout.map { Int($0.milliseconds) }
        return request
    }
}
