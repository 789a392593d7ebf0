import Foundation
import PlanterJSON
import Testing

/// `planter plugins check`, as a plugin author runs it: on the c-echo example built by `swift build`.
@Suite struct PluginsCheckTests {
    static func cEcho() throws -> String {
        let directory = try #require(CLI.productsDirectory, "no products folder with planter")
        return directory.appendingPathComponent("libplanter-c-echo.so").path
    }

    static let profile = #"""
        {"badConfig": {"config": {"fail": true}, "message": "configured to fail"},
         "stream": {"description": "hello", "expect": "hello"},
         "outputs": {"payload": {"k": 1}, "expect": {"echo": {"k": 1}}},
         "skip": {"dry-run": "not this test's subject", "bad-request": "not this test's subject"}}
        """#

    @Test func aPluginThatKeepsItsProfileExitsZeroWithATable() async throws {
        let scratch = try Scratch()
        let profile = try scratch.write("c-echo.contract.json", Self.profile)
        let outcome = try await CLI.run(["plugins", "check", try Self.cEcho(), "--profile", profile])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("(c-echo 1.0.0):"), "\(outcome)")
        #expect(outcome.stdout.contains("pass  streaming      \"hello\" streamed"), "\(outcome)")
        #expect(outcome.stdout.contains("skip  dry-run        the profile skips it: not this test's subject"), "\(outcome)")
        #expect(outcome.stdout.contains("skip  cancel-during  the profile has no long case"), "\(outcome)")
        #expect(outcome.stdout.contains("0 failed"), "\(outcome)")
    }

    @Test func aFailedCheckExitsOneAndJSONSaysWhich() async throws {
        let outcome = try await CLI.run(["plugins", "check", try Self.cEcho(), "--json", "--only", "handshake,dry-run",
                                         "--executor-config", "{}"])
        #expect(outcome.status == 0, "\(outcome)")
        let report = try outcome.json()
        #expect(report["passed"] == true)
        #expect(report["executor"]?["name"] == "c-echo")
        let checks = report["checks"]?.arrayValue ?? []
        #expect(checks.map { $0["name"]?.stringValue } == ["handshake", "dry-run"], "\(outcome)")
        #expect(checks.map { $0["outcome"]?.stringValue } == ["pass", "skip"], "\(outcome)")
        // Without a profile, dry-run has no stream case: skipped. A profile that expects what the
        // plugin does not do fails the check that looks: c-echo streams its description, not "bye".
        let scratch = try Scratch()
        let profile = try scratch.write("p.json", #"{"stream": {"description": "hi", "expect": "bye"}}"#)
        let failing = try await CLI.run(["plugins", "check", try Self.cEcho(), "--profile", profile, "--only", "streaming"])
        #expect(failing.status == 1, "\(failing)")
        #expect(failing.stdout.contains("FAIL  streaming"), "\(failing)")
        #expect(failing.stdout.contains("the output does not contain \"bye\""), "\(failing)")
    }

    @Test func badInputIsExitTwoNamingTheProblem() async throws {
        let scratch = try Scratch()
        let typo = try scratch.write("typo.json", #"{"strem": {"expect": "x"}}"#)
        let cases: [([String], String)] = [
            (["--profile", typo], "contract profile /strem: unknown key \"strem\""),
            (["--executor-config", "[1]"], "--executor-config must be a JSON object, got an array"),
            (["--only", "dryrun"], "--only: no check is named \"dryrun\""),
        ]
        for (arguments, message) in cases {
            let outcome = try await CLI.run(["plugins", "check", try Self.cEcho()] + arguments)
            #expect(outcome.status == 2, "\(arguments): \(outcome)")
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome)")
        }
        let missing = try await CLI.run(["plugins", "check", scratch.path("libplanter-none.so")])
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.contains("no such file"), "\(missing)")
    }
}
