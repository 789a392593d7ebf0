import ArgumentParser
import PlanterCommands
import ExecutorContract
import Foundation
import PlanterCore
import ExecutorRuntime
import PlanterJSON

/// `planter plugins check PATH`: runs the executor contract (ExecutorContract) against one plugin
/// `.so` or subprocess executor program, for plugin authors.
struct PluginsCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run the executor contract checks against a plugin .so or a subprocess executor.",
        discussion: """
            Checks: \(ContractCheck.all.map(\.name).joined(separator: ", ")).
            Exit status: 0 when no check failed (skipped checks do not fail), 1 when one did, 2 for a bad profile, \
            config or target. A profile (JSON) gives the payloads some checks need; see README "Writing a custom executor".
            """
    )

    @Argument(help: "The plugin (.so), or with --command the program and its arguments (put them after --).")
    var target: [String]

    @Flag(name: .long, help: "The target is a program speaking the subprocess protocol, not a .so.")
    var command = false

    @Option(name: .long, help: "inProcess (default) or process: run the .so in planter-executor-host, as isolation: process does.")
    var isolation: Isolation = .inProcess

    @Option(name: .long, help: "The contract profile: a JSON file with the cases the checks need.")
    var profile: String?

    // Not --config: that is `planter plugins`' own option (the deployment file), which takes it first.
    @Option(name: .long, help: "The executor config, as JSON (overrides the profile's config).")
    var executorConfig: String?

    @Option(name: .long, help: "Run only these checks (comma-separated).")
    var only: String?

    @Flag(name: .long, help: "Print the report as JSON (the same as -o json).")
    var json = false

    // The same group as `planter plugins`' own: the parent parses `-o` wherever it is, and both see it.
    @OptionGroup var format: OutputOption

    enum Isolation: String, ExpressibleByArgument, CaseIterable {
        case inProcess
        case process
    }

    func run() throws {
        let contractTarget = try resolveTarget()
        var contractProfile = try loadProfile()
        if let executorConfig {
            let parsed: JSON
            do { parsed = try JSONParser.parse(executorConfig) } catch { throw invalid("--executor-config is not JSON: \(error)") }
            guard parsed.objectValue != nil else {
                throw invalid("--executor-config must be a JSON object, got \(parsed.typeName)")
            }
            contractProfile.config = parsed
        }
        var selected = Set<String>()
        if let only {
            for name in only.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard ContractCheck.names.contains(name) else {
                    throw invalid("--only: no check is named \"\(name)\" (checks: \(ContractCheck.names.joined(separator: ", ")))")
                }
                selected.insert(name)
            }
        }
        let report = ExecutorContract.run(contractTarget, profile: contractProfile, only: selected)
        let format = json ? .json : format.output
        if format == .text { StandardOutput.write(report.table) } else { StructuredOutput.write(report.json, format) }
        if !report.passed { throw ExitStatus.failed }
    }

    private func resolveTarget() throws -> ContractTarget {
        guard let first = target.first, !first.isEmpty else { throw invalid("name a plugin .so, or a program with --command") }
        if command {
            guard isolation == .inProcess else { throw invalid("--isolation applies to a plugin .so, not to --command") }
            return .command(target)
        }
        guard target.count == 1 else {
            throw invalid("one plugin path expected, got \(target.count) arguments (a program with arguments needs --command)")
        }
        let absolute = ((first.hasPrefix("/") ? first : FileManager.default.currentDirectoryPath + "/" + first) as NSString)
            .standardizingPath
        guard FileManager.default.fileExists(atPath: absolute) else { throw invalid("\(first): no such file") }
        switch isolation {
        case .inProcess: return .plugin(path: absolute)
        case .process:
            switch ExecutorHostLocator.find(environment: ProcessInfo.processInfo.environment) {
            case .success(let host): return .isolatedPlugin(path: absolute, executorHost: host)
            case .failure(let error): throw invalid(error.description)
            }
        }
    }

    private func loadProfile() throws -> ContractProfile {
        guard let profile else { return ContractProfile() }
        guard let data = FileManager.default.contents(atPath: profile) else { throw invalid("--profile \(profile): cannot read the file") }
        do {
            return try ContractProfile.parse(text: String(decoding: data, as: UTF8.self))
        } catch {
            throw invalid("\(profile): \(error)")
        }
    }

    private func invalid(_ message: String) -> ExitCode {
        StandardError.write("planter plugins check: \(message)\n")
        return ExitStatus.invalid
    }
}
