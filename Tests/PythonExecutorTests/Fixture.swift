import ExecutorRuntime
import PlanterCore
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Helpers for driving the real libplanter-python.so through the host's loader.

enum Fixture {
    struct Missing: Error, CustomStringConvertible { var description: String }

    static func plugin() throws -> Plugin { try BuiltPlugin.load("python") }

    static func executor(_ config: JSON = [:]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "python", config: config)
    }

    static func request(
        _ payload: JSON, phase: String = "p", timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(),
        secrets: [String: String] = [:], dryRun: Bool = false
    ) -> ExecuteRequest {
        ExecuteRequest(runId: "r-test", phaseId: phase, executor: "python", payload: payload, dryRun: dryRun,
                       timeoutMs: timeoutMs, inputs: inputs, secrets: secrets)
    }

    /// Runs one phase on `executor`, collecting its output (`onOutput` sees each chunk as it arrives).
    static func run(
        _ executor: PluginExecutor, _ payload: JSON, timeoutMs: Int? = nil, inputs: JSONObject = JSONObject(),
        secrets: [String: String] = [:], dryRun: Bool = false, during: (CallContext) -> Void = { _ in },
        onOutput: @escaping @Sendable (OutputChannel, UnsafeRawBufferPointer) -> Void = { _, _ in }
    ) -> Run {
        let collector = Collector()
        let context = CallContext(output: { stream, bytes in
            collector.append(stream, bytes)
            onOutput(stream, bytes)
        })
        during(context)
        let result = executor.execute(
            request(payload, timeoutMs: timeoutMs, inputs: inputs, secrets: secrets, dryRun: dryRun), call: context)
        return collector.run(result)
    }
}


extension JSON {
    init(_ value: JSON) { self = value }
}
