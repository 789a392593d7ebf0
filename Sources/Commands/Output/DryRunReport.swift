import PlanterCore
import PlanterHost
import PlanterJSON

/// What `--dry-run` shows: which phases could run together (waves), and the executor
/// instance and plugin chosen for each. Nothing is executed.
package struct DryRunReport {
    package let plan: Plan

    package func print(format: OutputFormat) {
        let waves = plan.graph.waves()
        switch format {
        case .json, .yaml:
            var object = JSONObject()
            object.appendUnchecked("valid", true)
            object.appendUnchecked("dryRun", true)
            object.appendUnchecked("phases", .int(Int64(plan.phases.count)))
            object.appendUnchecked("waves", .array(waves.map { wave in .array(wave.map(entry)) }))
            object.appendUnchecked("warnings", .array(plan.warnings.map { ["path": .string($0.path), "message": .string($0.message)] }))
            StructuredOutput.write(.object(object), format)
        case .text:
            var lines = ["dry run: \(plan.phases.count) phases in \(waves.count) wave\(waves.count == 1 ? "" : "s"); nothing runs"]
            for (number, wave) in waves.enumerated() {
                lines.append("wave \(number + 1):")
                for index in wave {
                    let phase = plan.phases[index]
                    let binding = plan.bindings[index]
                    var note = ""
                    if phase.spec.instanceMode == .onUse { note += "  (onUse)" }
                    if let attempts = phase.spec.retry?.maxAttempts, attempts > 1 { note += "  (up to \(attempts) attempts)" }
                    lines.append("  \(Terminal.pad(phase.id, 24)) executor \(binding.name) (plugin \(binding.plugin))\(note)")
                }
            }
            StandardOutput.write(lines.joined(separator: "\n") + "\n")
        }
    }

    private func entry(_ index: Int) -> JSON {
        let phase = plan.phases[index]
        var object = JSONObject()
        object.appendUnchecked("id", .string(phase.id))
        object.appendUnchecked("executor", .string(plan.bindings[index].name))
        object.appendUnchecked("plugin", .string(plan.bindings[index].plugin))
        object.appendUnchecked("instanceMode", .string((phase.spec.instanceMode ?? .immediate).rawValue))
        object.appendUnchecked("waitFor", .array(plan.graph.dependencies[index].map { .string(plan.phases[$0].id) }))
        return .object(object)
    }
}
