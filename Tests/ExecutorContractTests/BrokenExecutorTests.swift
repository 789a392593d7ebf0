import ExecutorContract
import PlanterJSON
import Testing

/// The kit must fail what is wrong, each at the right check, with a message saying what: c-echo
/// driven by a profile whose every expectation is false, and profiles that are themselves wrong.
@Suite struct BrokenExecutorTests {
    @Test func wrongExpectationsFailTheirChecks() throws {
        let profile = try ContractProfile.parse(text: #"""
            {"badConfig": {"config": {}},
             "badPayload": {"payload": 42},
             "stream": {"description": "what it says", "expect": "something else"},
             "long": {"payload": {}},
             "outputs": {"payload": {"k": 1}, "expect": {"echo": {"k": 2}}},
             "oversizedOutputs": {"payload": {"k": 1}},
             "cancelGraceMs": 2000}
            """#)
        let report = ExecutorContract.run(.plugin(path: try Subject.pluginPath("c-echo")), profile: profile)
        let expected: [String: String] = [
            "bad-config": "create accepted the bad config {}",
            "bad-payload": "payload 42 gave succeeded \"echoed\"; expected status invalid",
            "streaming": "the output does not contain \"something else\"",
            "outputs": "outputs.echo is {\"k\":1}; expected {\"k\":2}",
            "outputs-bound": "oversized outputs gave succeeded",
            "cancel-during": "the long case ended by itself",
            "time-limit": "with timeoutMs 500, it gave succeeded",
            "concurrency": "the stream case alone gave succeeded",
        ]
        for (name, text) in expected {
            let outcome = try #require(report.outcome(name), "no \(name) in the report")
            #expect(outcome.isFailure, "\(name): \(outcome)")
            #expect(outcome.detail.contains(text), "\(name): \(outcome.detail)")
        }
        #expect(report.outcome("handshake") == .passed("c-echo 1.0.0, ABI 1, concurrent execute"))
        #expect(!report.passed)
        #expect(report.table.contains("FAIL  bad-payload"), "\(report.table)")
        #expect(report.json["passed"] == false)
    }

    @Test func aLibraryThatIsNotAPluginFailsTheHandshakeAndSkipsTheRest() throws {
        let report = ExecutorContract.run(.plugin(path: "/nonexistent/libplanter-nothing.so"))
        #expect(report.outcome("handshake")?.isFailure == true)
        #expect(report.outcome("handshake")?.detail.contains("cannot open") == true, "\(report.table)")
        #expect(report.results.dropFirst().allSatisfy { $0.outcome == .skipped("the handshake failed") }, "\(report.table)")
    }

    @Test(arguments: [
        (#"{"strem": {}}"#, "contract profile /strem: unknown key \"strem\""),
        (#"{"stream": {"payload": {}, "expct": "x"}}"#, "contract profile /stream/expct: unknown key \"expct\""),
        (#"{"config": []}"#, "contract profile /config: must be an object"),
        (#"{"concurrency": 0}"#, "contract profile /concurrency: must be an integer from 1 to 64, got 0"),
        (#"{"skip": {"dryrun": "why"}}"#, "contract profile /skip/dryrun: no check is named \"dryrun\""),
        (#"{"skip": {"dry-run": ""}}"#, "contract profile /skip/dry-run: must be a non-empty string"),
        (#"[1]"#, "contract profile: must be an object, got an array"),
        (#"{"stream": "#, "contract profile: is not JSON"),
    ])
    func badProfilesAreRefusedNamingTheProblem(_ text: String, _ message: String) {
        #expect { _ = try ContractProfile.parse(text: text) } throws: { error in
            "\(error)".hasPrefix(message) || "\(error)".contains(message)
        }
    }
}
