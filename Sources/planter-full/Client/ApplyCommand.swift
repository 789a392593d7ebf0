import ArgumentParser
import PlanterCommands
import Foundation
import PlanterCore
import PlanterJSON

/// `planter apply FILE`: POST /plan to a running Planter; `--wait` follows the run to its end.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Send a plan to a running Planter (POST /plan): store it and run what changed.",
        discussion: """
            With --wait, shows the run live as planter run does and exits as it does: 0 every phase succeeded, \
            1 a phase failed or the run was cancelled, 2 the plan is invalid; also 3 the server cannot be reached, \
            4 a missing or refused token, 5 no such namespace. --staged runs the plan staged earlier (POST /apply).
            """
    )

    @Argument(help: "The plan: a JSON or YAML Phase Manifest (- for standard input); none with --staged.")
    var plan: String?

    @OptionGroup var client: ClientOptions

    @Flag(name: .long, help: "Follow the run until it ends and exit with its outcome.")
    var wait = false

    @Flag(name: .long, help: "Validate and diff on the server; show what would run; store and run nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Run every phase, not only those that changed or did not succeed.")
    var force = false

    @Flag(name: .long, help: "Store the plan as staged, to be diffed and applied later (planter apply --staged).")
    var stage = false

    @Flag(name: .long, help: "Run the staged plan (no FILE).")
    var staged = false

    @Flag(name: .long, help: "Warnings are errors.")
    var strict = false

    @Option(name: .long, help: "With --wait: lines, bar, none or auto (default, also $PLANTER_PROGRESS).")
    var progress: ProgressMode?

    mutating func validate() throws {
        if staged {
            if plan != nil { throw ValidationError("--staged runs the staged plan: give no FILE") }
            if dryRun || stage || force || strict { throw ValidationError("--staged takes no --dry-run, --stage, --force or --strict") }
        } else if plan == nil {
            throw ValidationError("name the plan file (or - for standard input), or --staged")
        }
        if stage && dryRun { throw ValidationError("--stage and --dry-run exclude each other") }
        if wait && (stage || dryRun) { throw ValidationError("--wait follows a run: not with --stage or --dry-run") }
    }

    func run() throws {
        let endpoint = try client.endpoint(command: "apply")
        let format = client.output
        let mode = ProgressMode.resolve(progress, quiet: false, environment: ProcessInfo.processInfo.environment)
        let request = try plan.map { try ManifestRequest.read($0, command: "apply") }
        let (plan, wait, dryRun, stage, force, strict) = (self.plan, self.wait, self.dryRun, self.stage, self.force, self.strict)
        let failed = try PlanterClient.session(endpoint, format: format) { client throws(ExitCode) -> Bool in
            var answer: JSON
            if let request {
                let flags = [("dryRun", dryRun), ("stage", stage), ("force", force), ("strict", strict)]
                answer = try await client.send(.POST, "/plan", query: flags.map { ($0.0, $0.1 ? "true" : nil) },
                                               body: request.bytes, contentType: request.contentType)
            } else {
                answer = try await client.send(.POST, "/apply")
            }
            // As planter run: the plan's warnings on standard error, before anything runs.
            if format == .text {
                for warning in answer["warnings"]?.arrayValue ?? [] {
                    StandardError.write("warning: \(warning["path"]?.stringValue ?? ""): \(warning["message"]?.stringValue ?? "")\n")
                }
            }
            if wait, let runId = answer["runId"]?.stringValue {
                let follower = RunFollower(client: client, format: format, progress: mode)
                let entry = try await follower.follow(runId, phases: answer["phaseCount"]?.intValue ?? 0)
                answer = answer.adding("result", entry)
                if format != .text { StructuredOutput.write(answer, format) }
                return RunFollower.exitCode(entry) != nil
            }
            if format == .text {
                StandardOutput.write(dryRun ? Self.dryRunText(answer) : Self.appliedText(answer, subject: plan ?? "the staged plan"))
            } else {
                StructuredOutput.write(answer, format)
            }
            return false
        }
        if failed { throw ExitStatus.failed }
    }

    /// `plan p-… applied (3 phases: 1 added, 1 changed, 1 unchanged): run r-… started`.
    static func appliedText(_ answer: JSON, subject: String) -> String {
        let planId = answer["planId"]?.stringValue ?? "?"
        let phases = answer["phaseCount"]?.intValue ?? 0
        let counts = DiffText.counts(answer["diff"])
        let what = "\(subject): plan \(planId), \(phases) phase\(phases == 1 ? "" : "s")" + (counts.isEmpty ? "" : " (\(counts))")
        var lines: [String] = []
        if answer["staged"]?.boolValue == true {
            lines.append("\(what) staged; see it with planter diff --staged, run it with planter apply --staged")
        } else if answer["queued"]?.boolValue == true {
            lines.append("\(what) queued behind run \(answer["runningRunId"]?.stringValue ?? "?")")
        } else {
            lines.append("\(what): run \(answer["runId"]?.stringValue ?? "?") started; follow it with planter logs --follow")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The diff, then the waves with what would run.
    static func dryRunText(_ answer: JSON) -> String {
        var lines = ["dry run: \(answer["phaseCount"]?.intValue ?? 0) phases; nothing is stored or run"]
        lines += DiffText.lines(answer["diff"] ?? .null, against: nil)
        for (number, wave) in (answer["waves"]?.arrayValue ?? []).enumerated() {
            lines.append("wave \(number + 1):")
            for phase in wave.arrayValue ?? [] {
                let runs = phase["wouldRun"]?.boolValue ?? true
                lines.append("  \(runs ? "▸" : "-") \(Terminal.pad(phase["id"]?.stringValue ?? "?", 24)) "
                    + "executor \(phase["executor"]?.stringValue ?? "?") (plugin \(phase["plugin"]?.stringValue ?? "?"))"
                    + (runs ? "" : "  (unchanged, would not run)"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A manifest file as a request body.
struct ManifestRequest: Sendable {
    var bytes: [UInt8]
    var contentType: String

    /// The file (`-`: standard input) as a body; exit 2 when it cannot be read.
    static func read(_ path: String, command: String) throws -> ManifestRequest {
        switch PlanFile.read(path) {
        case .success(let bytes): return ManifestRequest(path: path, bytes: bytes)
        case .failure(let failure):
            StandardError.write("planter \(command): \(failure.problems.first?.message ?? "cannot read \(path)")\n")
            throw ExitStatus.invalid
        }
    }

    /// YAML by its extension (or, with none, by not starting with `[` or `{`), as the server reads it.
    init(path: String, bytes: [UInt8]) {
        self.bytes = bytes
        let lower = path.lowercased()
        let yaml: Bool
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
            yaml = true
        } else if lower.hasSuffix(".json") {
            yaml = false
        } else {
            let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
            yaml = first != UInt8(ascii: "[") && first != UInt8(ascii: "{")
        }
        contentType = yaml ? "application/yaml" : "application/json"
    }
}
