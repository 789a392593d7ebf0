import Foundation
import Testing

/// `planter` answers run/validate itself and replaces itself with planter-full for the rest: each
/// command must run exactly once, in the process the caller started, with the exit code it gives.
@Suite struct ProgramSplitTests {
    @Test func aSucceedingRunRunsItsPlanOnce() async throws {
        let scratch = try Scratch()
        let log = scratch.path("ran")
        let plan = try scratch.write("plan.json", manifest(shellPhase("once", "echo x >> \(log)")))
        let outcome = try await CLI.run(["run", plan, "--quiet"])
        #expect(outcome.status == 0, "\(outcome)")
        // Had the small program gone on to planter-full after its command returned, the phase ran twice.
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

    @Test func theSmallProgramLinksNoServerMessagingOrTLS() async throws {
        let planter = try CLI.planter.path
        let ldd = try await CLI.runTool("/usr/bin/ldd", [planter])
        #expect(ldd.status == 0, "\(ldd)")
        for library in ["libnats", "libhiredis", "libssl", "libcrypto", "libz."] {
            #expect(!ldd.stdout.contains(library), "planter should not link \(library): \(ldd.stdout)")
        }
        let full = try await CLI.runTool("/usr/bin/ldd", [try CLI.planter.deletingLastPathComponent().appendingPathComponent("planter-full").path])
        #expect(full.stdout.contains("libnats"), "planter-full is the one with NATS: \(full)")
    }
}
