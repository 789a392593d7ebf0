import PlanterCore
import PlanterDeployment
import PlanterJSON
import Testing

@testable import PlanterHost

@Suite struct ValidationTests {
    func messages(_ text: String, deployment: Deployment = Deployment()) -> [String] {
        problems(text, deployment: deployment).map(\.description)
    }

    func expectProblem(_ text: String, _ expected: String, deployment: Deployment = Deployment(),
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let found = messages(text, deployment: deployment)
        #expect(found.contains { $0.contains(expected) }, "expected \(expected) in \(found)", sourceLocation: sourceLocation)
    }

    @Test func bodyMustBeAnArrayOrWrapper() {
        expectProblem(#"{"kind":"Phase"}"#, "/: expected a JSON array of phases")
        expectProblem(#""hello""#, "/: expected a JSON array of phases, or an object with a \"phases\" array; got a string")
        expectProblem(#"[1]"#, "/0: a phase must be an object, got a number")
    }

    @Test func invalidJSONNamesLineAndColumn() {
        expectProblem("[\n  {\"kind\": \"Phase\",\n   \"id\": }\n]", "invalid JSON at line 3, column 10")
    }

    @Test func invalidYAMLNamesLineAndColumn() {
        let found = problems("- kind: Phase\n  id: [unclosed\n", format: .yaml).map(\.description)
        #expect(found.contains { $0.contains("invalid YAML at line") }, "\(found)")
    }

    @Test func kindAndIDRules() {
        expectProblem(#"[{"kind":"Task","id":"a"}]"#, #"/0/kind: kind must be "Phase", got "Task""#)
        expectProblem(#"[{"id":"a"}]"#, "/0/kind: missing kind")
        expectProblem(#"[{"kind":"Phase"}]"#, "/0/id: missing id")
        expectProblem(#"[{"kind":"Phase","id":"  "}]"#, "/0/id: id must not be empty")
        expectProblem(#"[{"kind":"Phase","id":"a"},{"kind":"Phase","id":"a"}]"#, #"/1/id: duplicate id "a" (first used at /0)"#)
    }

    @Test func unknownDependencyWithSuggestion() {
        expectProblem("""
        [{"kind":"Phase","id":"preflight"},{"kind":"Phase","id":"b"},
         {"kind":"Phase","id":"c","spec":{"waitFor":{"phases":["b","prefligth"]}}}]
        """, #"/2/spec/waitFor/phases/1: unknown phase "prefligth": no phase of this manifest has that id (did you mean "preflight"?"#)
    }

    @Test func cycleIsPrinted() {
        expectProblem("""
        [{"kind":"Phase","id":"a","spec":{"waitFor":{"phases":["b"]}}},
         {"kind":"Phase","id":"b","spec":{"waitFor":{"phases":["a"]}}}]
        """, "dependency cycle: a -> b -> a")
        expectProblem(#"[{"kind":"Phase","id":"self","spec":{"waitFor":{"phases":["self"]}}}]"#, "dependency cycle: self -> self")
    }

    @Test func maxAttemptsMustBeAnIntegerFrom1To1000() {
        for bad in ["0", "1001", "\"abc\"", "2.5", "true"] {
            expectProblem(#"[{"kind":"Phase","id":"a","spec":{"retry":{"maxAttempts":\#(bad)}}}]"#, "/0/spec/retry/maxAttempts: maxAttempts must")
        }
        #expect(messages(#"[{"kind":"Phase","id":"a","spec":{"retry":{"maxAttempts":"7"}}}]"#).isEmpty)
    }

    @Test func badDurations() {
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"x-timeout":"soon"}}]"#, "/0/spec/x-timeout: x-timeout must be a duration")
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"waitFor":{"timeout":"5 parsecs"}}}]"#, "/0/spec/waitFor/timeout: waitFor.timeout must be a duration")
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"retry":{"maxAttempts":2,"x-initialDelay":"x"}}}]"#, "/0/spec/retry/x-initialDelay")
    }

    @Test func unknownActionAndInstanceMode() {
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"onFailure":{"action":"explode"}}}]"#,
                      #"/0/spec/onFailure/action: unknown action "explode" acts as the default, "raise""#)
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"instanceMode":"sometimes"}}]"#,
                      #"/0/spec/instanceMode: unknown instanceMode "sometimes""#)
    }

    @Test func labelValuesMustBeStrings() {
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"selector":{"matchLabels":{"tier":3}}}}]"#,
                      #"/0/spec/selector/matchLabels/tier: label "tier" must have a string value, got 3"#)
    }

    @Test func undefinedExecutorIsAnError() {
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"selector":{"matchLabels":{"executor":"warp"}}}}]"#,
                      #"/0/spec/selector/matchLabels/executor: executor "warp" is not defined by the deployment"#)
        var deployment = Deployment()
        deployment.defaultExecutor = "missing"
        expectProblem(#"[{"kind":"Phase","id":"a"}]"#, "(the default executor, as the phase names none)", deployment: deployment)
    }

    @Test func executorMatchLabelsSelectInstances() throws {
        var deployment = Deployment()
        deployment.executors = [ExecutorDefinition(name: "deploy", plugin: "noop", match: ["env": "prod"])]
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"selector":{"matchLabels":{"executor":"deploy","env":"dev"}}}}]"#,
                      #"no instance of executor "deploy" matches the phase's labels"#, deployment: deployment)
        #expect(messages(#"[{"kind":"Phase","id":"a","spec":{"selector":{"matchLabels":{"executor":"deploy","env":"prod"}}}}]"#,
                         deployment: deployment).isEmpty)
    }

    @Test func unknownKeysAreWarningsAndConflictingSpellingsErrors() {
        let found = problems(#"[{"kind":"Phase","id":"a","colour":"red","spec":{"descripton":"x","x-ok":1}}]"#)
        #expect(found.allSatisfy { $0.severity == .warning })
        #expect(Set(found.map(\.path)) == ["/0/colour", "/0/spec/descripton"])
        expectProblem(#"[{"kind":"Phase","id":"a","spec":{"waitFor":{},"wait_for":{}}}]"#, #"/0/spec/wait_for: "wait_for" repeats "waitFor""#)
    }

    @Test func largeSpecsAreReadTheSameWay() {
        // Past 16 fields the reader looks names up by hash: same spellings, same messages.
        let unknown = (0..<20).map { "\"u\($0)\":1" }.joined(separator: ",")
        let found = problems(#"[{"kind":"Phase","id":"a","spec":{"#
            + unknown + #","waitFor":{"phases":[]},"wait_for":{},"retry":{"max_attempts":"x"}}}]"#)
        let text = found.map(\.description)
        #expect(text.contains { $0.hasPrefix(#"/0/spec/wait_for: "wait_for" repeats "waitFor""#) }, "\(text)")
        #expect(text.contains { $0.hasPrefix("/0/spec/retry/max_attempts:") }, "\(text)")
        #expect(found.filter { $0.severity == .warning && $0.description.contains("unknown field") }.count == 20, "\(text)")
        #expect(text.contains { $0.hasPrefix("/0/spec/u19: unknown field \"u19\"") }, "\(text)")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = problems("""
        [{"kind":"Task","id":""},{"kind":"Phase","id":"b","spec":{"retry":{"maxAttempts":0},"waitFor":{"phases":["zzz"]},
          "onFailure":{"action":7},"instanceMode":["later"],"x-timeout":"never"}}]
        """).filter { $0.severity == .error }
        #expect(found.count >= 6, "\(found)")
    }

    @Test func wrapperPointersIncludeThePhasesKey() {
        expectProblem(#"{"phases":[{"kind":"Phase","id":"a","spec":{"instanceMode":"x"}}]}"#, "/phases/0/spec/instanceMode")
    }

    @Test func deploymentConfigProblemsHavePointers() throws {
        let json = try JSONParser.parse(#"{"executors":[{"plugin":"shell","secrets":["NOPE"]}],"retry":{"factor":"fast"},"bogus":1}"#)
        let (_, problems) = Deployment.decode(json, source: "test")
        let text = problems.all.map(\.description)
        #expect(text.contains("/executors/0/name: missing executor name"))
        #expect(text.contains { $0.hasPrefix("/executors/0/secrets/0: unknown secret \"NOPE\"") })
        #expect(text.contains { $0.hasPrefix("/retry/factor: factor (each delay over the last) must be a number from 1 to 100") })
        #expect(text.contains { $0.hasPrefix("/bogus: unknown field") })
    }

    /// Keys match case-insensitively; a pointer must spell the key as the config does, or it names nothing
    /// (found by the deployment fuzzer).
    @Test func unknownSecretPointerSpellsTheKeyAsWritten() throws {
        let json = try JSONParser.parse(#"{"executors":[{"name":"build","plugin":"shell","seCrets":["TOKEN","NOPE"]}],"secrets":{"TOKEN":{"env":"TOKEN"}}}"#)
        let (_, problems) = Deployment.decode(json, source: "test")
        let text = problems.all.map(\.description)
        #expect(text.contains { $0.hasPrefix("/executors/0/seCrets/1: unknown secret \"NOPE\"") }, "\(text)")
    }

    @Test func executorsServedOverNATSAreCheckedWithPointers() throws {
        let good = try JSONParser.parse(#"{"executors":[{"name":"rt","session":{"runtime":true,"ackTimeout":"5s"}},{"name":"gpu","remote":{"pool":"gpu-1","scheduleTimeout":"2m"}}]}"#)
        let (deployment, clean) = Deployment.decode(good, source: "test")
        #expect(!clean.hasErrors, "\(clean.all)")
        #expect(deployment.executors.map(\.external) == [.sessionRuntime(ackTimeout: PlanDuration(milliseconds: 5000)),
                                                         .remotePool("gpu-1", scheduleTimeout: PlanDuration(milliseconds: 120_000), lease: nil)])
        let bad = try JSONParser.parse(#"{"executors":[{"name":"a","session":{"runtime":"yes"}},{"name":"b","remote":{"pool":"has.dot"}},{"name":"c","plugin":"shell","remote":{"pool":"p","bogus":1}},{"name":"d","session":{"runtime":true,"ackTimeout":"0s"}}]}"#)
        let text = Deployment.decode(bad, source: "test").1.all.map(\.description)
        #expect(text.contains("/executors/0/session/runtime: runtime is true or false"), "\(text)")
        #expect(text.contains { $0.hasPrefix("/executors/1/remote/pool: a pool name has 1 to 64 letters") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("/executors/2: an executor served over NATS (session or remote) has no plugin") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("/executors/2/remote/bogus: unknown field") }, "\(text)")
        #expect(text.contains("/executors/3/session/ackTimeout: must be more than 0"), "\(text)")
    }

    /// Problems found after decoding (graph, dispatch) point at the keys as the document spells them.
    @Test func laterProblemsSpellThePointerAsWritten() {
        let text = #"[{"Kind":"Phase","Id":"a","Spec":{"Selector":{"Match_Labels":{"executor":"nope"}}}},"#
            + #"{"kind":"Phase","ID":"a","SPEC":{"Wait_For":{"Phases":["a","ghost"]}}},"#
            + #"{"kind":"Phase","id":"c","spec":{"waitFor":["ghost"]}},"#
            + #"{"kind":"Phase","id":"d","spec":{"wait_for":{"phases":["e"]}}},{"kind":"Phase","id":"e","spec":{"wait_for":["d"]}}]"#
        let found = messages(text)
        for expected in ["/0/Spec/Selector/Match_Labels/executor: ", "/1/ID: duplicate id \"a\" (first used at /0)",
                         "/1/SPEC/Wait_For/Phases/1: unknown phase \"ghost\"", "/2/spec/waitFor/0: unknown phase \"ghost\"",
                         "/spec/wait_for: dependency cycle"] {
            #expect(found.contains { $0.hasPrefix(expected) || ($0.contains(expected) && expected.hasPrefix("/spec")) },
                    "expected \(expected) in \(found)")
        }
    }

    /// Short lists are checked by comparison, long ones through a set: both must warn, once per repeat.
    @Test func aPhaseListedTwiceInWaitForIsAWarning() {
        let ids = (0..<20).map { "p\($0)" }
        let phases = ids.map { #"{"kind":"Phase","id":"\#($0)"}"# }
        func plan(_ waits: [String]) -> String {
            let list = waits.map { "\"\($0)\"" }.joined(separator: ",")
            return "[" + phases.joined(separator: ",") + #",{"kind":"Phase","id":"w","spec":{"waitFor":{"phases":["# + list + "]}}}]"
        }
        let short = messages(plan(["p0", "p1", "p0"]))
        #expect(short.filter { $0.contains("listed twice") } == [#"/20/spec/waitFor/phases/2: phase "p0" is listed twice"#], "\(short)")
        let long = messages(plan(ids + ["p3", "p19"]))
        #expect(long.filter { $0.contains("listed twice") }.count == 2, "\(long)")
        #expect(long.contains { $0.hasPrefix(#"/20/spec/waitFor/phases/21: phase "p19" is listed twice"#) }, "\(long)")
    }
}
