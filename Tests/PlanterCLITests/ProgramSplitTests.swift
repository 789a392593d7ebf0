import Foundation
import Testing

/// `planter` is a launcher that replaces itself with planter-run (run, validate) or planter-full
/// (the rest): each command must run exactly once, with the exit code it gives.
@Suite struct ProgramSplitTests {
    @Test func aSucceedingRunRunsItsPlanOnce() async throws {
        let scratch = try Scratch()
        let log = scratch.path("ran")
        let plan = try scratch.write("plan.json", manifest(shellPhase("once", "echo x >> \(log)")))
        let outcome = try await CLI.run(["run", plan, "--quiet"])
        #expect(outcome.status == 0, "\(outcome)")
        // A launcher that went on after its program returned would have run the phase twice.
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "x\n")
        let valid = try await CLI.run(["validate", plan])
        #expect(valid.status == 0 && valid.stdout == "\(plan): valid, 1 phase\n", "\(valid)")
    }

    @Test func otherCommandsAreServedByTheFullProgram() async throws {
        let version = try await CLI.run(["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version)")
        let help = try await CLI.run(["--help"])
        for command in ["run", "validate", "serve", "worker", "apply", "logs"] {
            #expect(help.stdout.contains("  \(command) "), "the full command list names \(command): \(help)")
        }
        let plugins = try await CLI.run(["plugins", "-o", "json"])
        #expect(plugins.status == 0 && plugins.stdout.contains("\"shell\""), "\(plugins)")
        let unknown = try await CLI.run(["no-such-command"])
        #expect(unknown.status == 64 && unknown.stderr.contains("no-such-command"), "\(unknown)")
    }

    @Test func theProgramsLinkOnlyWhatTheirCommandsNeed() async throws {
        let folder = try CLI.planter.deletingLastPathComponent()
        func libraries(_ name: String) async throws -> String {
            let ldd = try await CLI.runTool("/usr/bin/ldd", [folder.appendingPathComponent(name).path])
            #expect(ldd.status == 0, "\(ldd)")
            return ldd.stdout
        }
        let launcher = try await libraries("planter")
        #expect(!launcher.contains("libswift") && !launcher.contains("Foundation"), "the launcher is C: \(launcher)")
        let run = try await libraries("planter-run")
        for library in ["libnats", "libhiredis", "libssl", "libcrypto", "libz."] {
            #expect(!run.contains(library), "planter-run should not link \(library): \(run)")
        }
        #expect(try await libraries("planter-full").contains("libnats"), "planter-full is the one with NATS")
    }

    /// Through a symlink (an install in /usr/local/bin pointing elsewhere) the programs are still found.
    @Test func aSymlinkToTheLauncherWorks() async throws {
        let scratch = try Scratch()
        let link = scratch.path("planter")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: try CLI.planter.path)
        let plan = try scratch.write("plan.json", manifest(shellPhase("one", "true")))
        for arguments in [["validate", plan], ["--version"]] {
            let outcome = try await CLI.runTool(link, arguments)
            #expect(outcome.status == 0, "\(arguments): \(outcome)")
        }
    }
}
