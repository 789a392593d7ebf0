import ArgumentParser
import PlanterCommands
import Foundation
import ExecutorRuntime
import PlanterCore
import PlanterHost
import PlanterJSON

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the executor plugins found, the ones that failed to load, which executor serves which label, and the workers of remote pools.",
        subcommands: [PluginsCheckCommand.self]
    )

    @OptionGroup var deployment: DeploymentOptions

    @OptionGroup var format: OutputOption
    var output: OutputFormat { format.output }

    func run() throws {
        let setup = try deployment.prepare(format: output)
        let catalog = setup.catalog
        let registry = setup.registry
        // The deployment's remote pools and their live workers (NATS_URL set), else a line saying NATS is not configured.
        let remote = RemotePools.listen(setup.deployment, environment: ProcessInfo.processInfo.environment)
        switch output {
        case .json, .yaml:
            var object = JSONObject()
            object.appendUnchecked("hostABIVersion", .int(Int64(planterABIVersion)))
            object.appendUnchecked("plugins", .array(catalog.plugins.map { plugin in
                ["name": .string(plugin.name), "version": .string(plugin.version), "abiVersion": .int(Int64(plugin.abiVersion)),
                 "path": .string(plugin.path), "description": .string(plugin.summary)]
            }))
            object.appendUnchecked("failures", .array(catalog.failures.map { ["path": .string($0.path), "reason": .string($0.reason)] }))
            object.appendUnchecked("deployment", .string(setup.deployment.source))
            object.appendUnchecked("executorLabel", .string(setup.deployment.executorLabel))
            object.appendUnchecked("defaultExecutor", .string(setup.deployment.defaultExecutor))
            var executors = registry.bindings.map { binding -> JSON in
                ["name": .string(binding.name), "plugin": .string(binding.plugin), "match": binding.match.json, "available": true]
            }
            executors += registry.unavailable.sorted { $0.key < $1.key }.map { name, reason -> JSON in
                ["name": .string(name), "available": false, "reason": .string(reason)]
            }
            object.appendUnchecked("executors", .array(executors))
            if let remote { object.appendUnchecked("remotePools", remote.json) }
            StructuredOutput.write(.object(object), output)
        case .text:
            var lines = ["Plugins (host ABI version \(planterABIVersion)):"]
            if catalog.plugins.isEmpty { lines.append("  none found") }
            for plugin in catalog.plugins {
                lines.append("  \(plugin.name) \(plugin.version)  ABI \(plugin.abiVersion)  \(plugin.path)")
                if !plugin.summary.isEmpty { lines.append("      \(plugin.summary)") }
            }
            if !catalog.failures.isEmpty {
                lines.append("Failed to load:")
                for failure in catalog.failures { lines.append("  \(failure.path): \(failure.reason)") }
            }
            lines.append("Executors (\(setup.deployment.source); label \"\(setup.deployment.executorLabel)\", "
                + "default \"\(setup.deployment.defaultExecutor)\"):")
            for binding in registry.bindings {
                let match = binding.match.isEmpty ? "" : "  when " + binding.match.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                lines.append("  \(setup.deployment.executorLabel): \(binding.name) -> plugin \(binding.plugin)\(match)")
            }
            for (name, reason) in registry.unavailable.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(setup.deployment.executorLabel): \(name) -> unavailable: \(reason)")
            }
            if let remote { lines += remote.lines }
            StandardOutput.write(lines.joined(separator: "\n") + "\n")
        }
    }
}
