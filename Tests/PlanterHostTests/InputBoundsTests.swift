import ExecutorRuntime
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON
import Testing

@testable import PlanterHost

/// Input that parses but does not fit, wrong types, text that is not UTF-8, documents built to
/// exhaust memory: each is an error at its place, never a trap and never a silent change.
@Suite struct InputBoundsTests {
    func found(_ text: String, deployment: Deployment = Deployment(), format: DocumentParser.Format = .automatic) -> [String] {
        problems(text, deployment: deployment, format: format).map { "\($0.severity.rawValue): \($0)" }
    }

    func expect(_ text: String, _ expected: String..., format: DocumentParser.Format = .automatic,
                sourceLocation: SourceLocation = #_sourceLocation) {
        let all = found(text, format: format)
        for part in expected {
            #expect(all.contains { $0.contains(part) }, "expected \(part) in \(all)", sourceLocation: sourceLocation)
        }
    }

    func phase(_ spec: String) -> String { #"[{"kind":"Phase","id":"a","spec":{\#(spec)}}]"# }

    @Test func durationsThatDoNotFitAreErrorsWithTheRange() {
        // Both crashed Planter once: Int64(seconds * 1000) trapped.
        expect(phase(#""x-timeout": 1e17"#), "error: /0/spec/x-timeout:", "30 days", "longer than the maximum")
        expect(phase(#""retry": {"maxAttempts": 2, "x-initialDelay": 6.06e16}"#), "error: /0/spec/retry/x-initialDelay:")
        expect(phase(#""x-timeout": 9223372036854775807"#), "error: /0/spec/x-timeout:", "longer than the maximum")
        expect(phase(#""x-timeout": -1"#), "error: /0/spec/x-timeout:", "negative")
        expect(phase(#""x-timeout": "99999999999999999999999h""#), "error: /0/spec/x-timeout:", "longer than the maximum")
        expect(phase(#""x-timeout": "NaN""#), "error: /0/spec/x-timeout:", "not a finite number")
        expect(phase(#""x-timeout": "infinity""#), "error: /0/spec/x-timeout:")
        expect(phase(#""x-timeout": "29d24h1s""#), "error: /0/spec/x-timeout:", "longer than the maximum")
        expect(phase(#""waitFor": {"timeout": "31d"}"#), "error: /0/spec/waitFor/timeout:")
        expect(phase(#""x-timeout": "5 parsecs""#), "error: /0/spec/x-timeout:", "not a duration")
        #expect(found(phase(#""x-timeout": "29d23h59m59s""#)).isEmpty)
        #expect(found(phase(#""x-timeout": "1m30s""#)).isEmpty)
        #expect(PlanDuration(parsing: "30d") == PlanDuration.maximum)
        #expect(PlanDuration(parsing: "30d1ms") == nil)
        #expect(PlanDuration(parsing: "١s") == nil, "only ASCII digits are digits")
    }

    @Test func backoffFactorAndJitterRanges() {
        expect(phase(#""retry": {"maxAttempts": 2, "x-factor": 0.5}"#), "error: /0/spec/retry/x-factor:", "from 1 to 100")
        expect(phase(#""retry": {"maxAttempts": 2, "x-jitter": 1.5}"#), "error: /0/spec/retry/x-jitter:", "from 0 to 1")
        expect(phase(#""retry": {"maxAttempts": 2, "x-jitter": "lots"}"#), "error: /0/spec/retry/x-jitter:")
        #expect(found(phase(#""retry": {"maxAttempts": 2, "x-factor": "1.5", "x-jitter": 0}"#)).isEmpty)
        expect(phase(#""retry": {"maxAttempts": 1e300}"#), "error: /0/spec/retry/maxAttempts:", "1...1000")
    }

    @Test func backoffDelayIsTotal() {
        var policy = BackoffPolicy()
        policy.initialDelay = PlanDuration(milliseconds: 0)
        policy.factor = 100
        policy.maxDelay = PlanDuration.maximum
        #expect(policy.delay(afterAttempt: 1000, random: 1).milliseconds == 0, "0 × 100^999 is NaN in floating point")
        policy.initialDelay = PlanDuration.maximum
        policy.jitter = 1
        #expect(policy.delay(afterAttempt: 1000, random: 0.999).milliseconds == PlanDuration.maximum.milliseconds)
        #expect(policy.delay(afterAttempt: .max, random: .infinity).milliseconds <= PlanDuration.maximum.milliseconds)
    }

    @Test func jsonMustBeUTF8() throws {
        func parseError(_ bytes: [UInt8]) -> JSONParseError? {
            do { _ = try JSONParser.parse(bytes); return nil } catch { return error }
        }
        let prefix = Array(#"["ok", "a"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80]] {
            let failure = parseError(prefix + bad + Array(#""]"#.utf8))
            #expect(failure?.message.contains("invalid UTF-8") == true, "\(bad): \(String(describing: failure))")
            #expect(failure?.line == 1 && failure?.column == 10, "\(bad): \(String(describing: failure))")
        }
        #expect(try JSONParser.parse(Array(#"["é€😀", "\u00e9"]"#.utf8)) == ["é€😀", "é"])
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == [1], "a byte order mark is skipped")
    }

    @Test func numbersOutOfRangeAreRefused() throws {
        #expect(throws: JSONParseError.self) { try JSONParser.parse("[1e400]") }
        #expect(throws: JSONParseError.self) { try JSONParser.parse("[-1e400]") }
        #expect(try JSONParser.parse("[99999999999999999999]") == [.double(1e20)])
    }

    @Test func wrongTypesAreErrorsNamingTheTypeWanted() {
        expect(phase(#""description": 5"#), "error: /0/spec/description: description must be a string, got 5")
        expect(#"{"phases": "b"}"#, "error: /phases: phases must be an array of phases, got a string")
        expect(phase(#""selector": {"matchLabels": {"executor": null}}"#), "error: /0/spec/selector/matchLabels/executor:",
               "must have a string value, got null")
        expect(#"[{"kind":"Phase","id":7}]"#, "error: /0/id: id must be a string, got 7")
        expect(#"[{"kind":"Phase","id":null}]"#, "error: /0/id: id must be a string, got null")
        expect(phase(#""instanceMode": 3"#), "error: /0/spec/instanceMode: instanceMode must be a string")
    }

    @Test func nullMeansNotSet() {
        let text = #"[{"Kind":"Phase","Id":"a","Spec":{"description":null,"instance_mode":null,"wait_for":null,"retry":null,"on_failure":{"action":null}}}]"#
        #expect(found(text).isEmpty, "\(found(text))")
    }

    @Test func openValuesAreWarningsAndStrictModeMakesThemErrors() throws {
        let text = #"[{"kind":"Phase","id":"a","spec":{"instanceMode":"parallel","onFailure":{"action":"log","spec":{"message":"m"}}}},"#
            + #"{"kind":"Phase","id":"b","spec":{"instanceMode":"onuse"}}, {"kind":"Phase","id":"c","spec":{"instanceMode":"imediate"}}]"#
        let plan = try makePlan(text)
        let warnings = plan.warnings.map(\.description)
        #expect(warnings.contains { $0.contains(#"/0/spec/instanceMode: unknown instanceMode "parallel" runs as "immediate""#) }, "\(warnings)")
        #expect(warnings.contains { $0.contains(#"/0/spec/onFailure/action: unknown action "log" acts as the default, "raise""#) })
        #expect(warnings.contains { $0.contains(#"/2/spec/instanceMode"#) && $0.contains(#"did you mean "immediate""#) }, "\(warnings)")
        #expect(plan.phases[0].spec.instanceMode == nil && plan.phases[0].spec.onFailure?.action == nil)
        #expect(plan.phases[1].spec.instanceMode == .onUse)
        let registry = ExecutorRegistry(deployment: Deployment(), catalog: PluginCatalog(), environment: [:])
        guard case .failure(let failure) = PlanValidator.validate(text: Array(text.utf8), format: .json, registry: registry, strict: true) else {
            Issue.record("strict mode accepted open values")
            return
        }
        #expect(failure.problems.allSatisfy { $0.severity == .error } && failure.problems.count == warnings.count)
        #expect(failure.problems.contains { $0.message.contains("strict mode") })
        #expect(PlanValidator.strictFromEnvironment(["PLANTER_STRICT": "1"]) && !PlanValidator.strictFromEnvironment([:]))
    }

    @Test func warningsAreEventsOfTheRun() throws {
        let plan = try makePlan(#"[{"kind":"Phase","id":"a","spec":{"instanceMode":"sequential"}}]"#)
        let (result, events) = run(plan)
        #expect(result.status == .succeeded)
        #expect(events.contains { $0.kind == .log && $0.level == .warning && $0.message.contains("instanceMode") && $0.message.contains("/0/spec") })
    }

    @Test func unknownDependencySaysHowToFixIt() {
        expect(#"[{"kind":"Phase","id":"initialization","spec":{"waitFor":{"phases":["preflight"]}}}]"#,
               #"error: /0/spec/waitFor/phases/0: unknown phase "preflight""#, #"add a phase with id "preflight", or remove it from waitFor"#)
    }

    @Test func deploymentTyposAreErrorsWithSuggestions() {
        func deploymentProblems(_ yaml: String) -> [String] {
            guard case .success(let json) = DocumentParser.parse(yaml, format: .yaml) else { return ["unparsable"] }
            return Deployment.decode(json, source: "test").1.all.map { "\($0.severity.rawValue): \($0)" }
        }
        let typo = deploymentProblems("executors:\n  - name: build\n    plugin: shell\n    isolatoin: process\n")
        #expect(typo.contains { $0.hasPrefix("error: /executors/0/isolatoin:") && $0.contains(#"did you mean "isolation"?"#) }, "\(typo)")
        let top = deploymentProblems("paralel: 4\nx-team: infra\n")
        #expect(top == [#"error: /paralel: unknown field "paralel" (did you mean "parallel"? known here: executorLabel, defaultExecutor, parallel, retry, outputTailBytes, history, namespaces, secrets, executors, pluginPath; extensions start with x-)"#], "\(top)")
        let values = deploymentProblems("parallel: 0\nretry: {factor: 0.5, jitter: 3, maxDelay: 1e12}\nsecrets: {A: {env: X, file: /f}, B: {enz: X}, C: 5}\n")
        for pointer in ["/parallel", "/retry/factor", "/retry/jitter", "/retry/maxDelay", "/secrets/A", "/secrets/B/enz", "/secrets/C"] {
            #expect(values.contains { $0.hasPrefix("error: \(pointer):") }, "\(pointer) in \(values)")
        }
    }

    @Test func yamlAliasesAreBounded() {
        var laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            laughs += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        let all = found(laughs, format: .yaml)
        #expect(all.count == 1 && all[0].contains("expands to more than 100000 values"), "\(all)")
        // A few aliases, as configs use them, are fine; merge keys apply with local keys winning.
        guard case .success(let json) = DocumentParser.parse("base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  b: 3\n", format: .yaml) else {
            Issue.record("merge key refused")
            return
        }
        #expect(json["use"] == ["b": 3, "a": 1])
    }

    @Test func yamlNestingAndNonJSONValuesAreErrors() {
        let deep = String(repeating: "- ", count: 600) + "x\n"
        #expect(found(deep, format: .yaml).contains { $0.contains("nesting deeper than 512 levels") || $0.contains("nesting level") })
        let flow = String(repeating: "[", count: 100_000)
        #expect(found(flow, format: .yaml).first?.contains("invalid YAML at line 1") == true)
        expect("- kind: Phase\n  id: a\n  spec:\n    x-run: {n: .inf}\n", "error: /0/spec/x-run/n:", "not a JSON number", format: .yaml)
        expect("{? [a]: b}\n", "a mapping key must be text", format: .yaml)
        let notUTF8: [UInt8] = [0x2D, 0x20, 0xFF, 0x0A]
        #expect(!yamlProblems(notUTF8).isEmpty)
    }

    func yamlProblems(_ bytes: [UInt8]) -> [String] {
        let registry = ExecutorRegistry(deployment: Deployment(), catalog: PluginCatalog(), environment: [:])
        guard case .failure(let failure) = PlanValidator.validate(text: bytes, format: .yaml, registry: registry) else { return [] }
        return failure.problems.map(\.description)
    }

    @Test func outputTailStaysBoundedAcrossRetries() {
        var earlier = OutputTail.Snapshot()
        earlier.text = String(repeating: "a", count: 90) + "é"
        earlier.totalBytes = 500
        earlier.droppedBytes = 408
        var latest = OutputTail.Snapshot()
        latest.text = String(repeating: "b", count: 60)
        latest.totalBytes = 60
        let combined = AttemptOutput.combine(earlier, latest, limit: 100)
        #expect(combined.text.utf8.count <= 100)
        #expect(combined.text.hasSuffix(String(repeating: "b", count: 60)) && combined.text.hasPrefix("a"))
        #expect(combined.totalBytes == 560 && combined.droppedBytes == 408 + (92 + 60 - combined.text.utf8.count))
        // Never starts inside a UTF-8 sequence: cutting at "é"'s second byte moves past it.
        let cut = AttemptOutput.combine(earlier, latest, limit: 61)
        #expect(cut.text == String(repeating: "b", count: 60))
    }

    @Test func yamlCannotTrapOrRecurseThroughYams() {
        // Base-60 integers: Yams' constructor multiplies unchecked; Planter keeps such text as text.
        expect("- {kind: Phase, id: a, spec: {x-timeout: 1:0:0:0:0:0:0:0:0:0:0}}\n", "error: /0/spec/x-timeout:", "not a duration", format: .yaml)
        guard case .success(let json) = DocumentParser.parse("a: 200000000000000000:0\nb: 0x1F\nc: -12\nd: 1_000\n", format: .yaml) else {
            Issue.record("integers refused")
            return
        }
        #expect(json == ["a": "200000000000000000:0", "b": 31, "c": -12, "d": 1000])
        // An alias as a key would be hashed (expanded) by Yams before any budget applies.
        var laughs = "- &l0 [x,x,x,x,x,x,x,x,x,x]\n"
        for level in 1...8 { laughs += "- &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]\n" }
        expect(laughs + "- ? *l8\n  : 1\n", "not an alias", format: .yaml)
        expect("- ? [a, b]\n  : 1\n", "a mapping key must be text", format: .yaml)
        // Aliases nesting aliases: every event is shallow, the tree is not.
        var deep = ""
        for level in 0..<40 {
            let inner = level == 0 ? "x" : "*a\(level - 1)"
            deep += "- &a\(level) " + String(repeating: "[", count: 100) + inner + String(repeating: "]", count: 100) + "\n"
        }
        expect(deep, "nesting deeper than 512 levels (through aliases)", format: .yaml)
    }

    @Test func yamlMessagesSayWhere() {
        let notUTF8: [UInt8] = Array("a: 1\nb: 2\nc: \"".utf8) + [0xFF] + Array("\"\n".utf8)
        #expect(yamlProblems(notUTF8).contains { $0.contains("line 3, column 5") }, "\(yamlProblems(notUTF8))")
        let duplicate = found("- kind: Phase\n  id: a\n  id: b\n", format: .yaml)
        #expect(duplicate.count == 1 && duplicate[0].contains(#"the key "id" is given more than once"#) && !duplicate[0].contains("kind: Phase"),
                "\(duplicate)")
        expect("- kind: Phase\n  id: 2024\n", #"id must be a string, got 2024 (quote it to mean text: "2024")"#, format: .yaml)
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1,]".utf8)) }
        do { _ = try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1,]".utf8)) } catch { #expect(error.column == 4, "\(error)") }
    }

    @Test func nullExtensionsAreNotSetAndInfinityIsNotFinite() {
        #expect(found(phase(#""x-timeout": null, "retry": {"maxAttempts": 2, "x-factor": null, "x-initialDelay": null}"#)).isEmpty)
        expect(phase(#""x-timeout": "inf""#), "not a finite number")
    }

    @Test func openValuesAreKeptAsWritten() throws {
        let plan = try makePlan(#"[{"kind":"Phase","id":"a","spec":{"instanceMode":"parallel","onFailure":{"action":"log"}}}]"#)
        let canonical = plan.phases[0].spec.canonicalJSON
        #expect(canonical["instanceMode"] == "parallel" && canonical["onFailure"]?["action"] == "log", "\(canonical)")
        let other = try makePlan(#"[{"kind":"Phase","id":"a","spec":{"instanceMode":"sequential","onFailure":{"action":"log"}}}]"#)
        #expect(PlanDiff(old: plan.manifest, new: other.manifest).changed.count == 1, "a changed open value is a change")
    }

    @Test func cyclesAndUnknownIdsCostLittleAndSayLittle() {
        // Each phase waits for the next and for the first: thousands of cycles, each as long as the manifest.
        let count = 3000
        let phases = (0..<count).map { index in
            #"{"kind":"Phase","id":"p\#(index)","spec":{"waitFor":["p\#((index + 1) % count)","p0"]}}"#
        }
        let all = problems("[" + phases.joined(separator: ",") + "]")
        #expect(all.count <= 11 && all.allSatisfy { $0.message.utf8.count < 400 }, "\(all.count) problems")
        #expect(all.contains { $0.message.contains("more dependency cycles (fix the ones above first)") })
        let ids = (0..<1500).map { #"{"kind":"Phase","id":"\#(String(repeating: "q", count: 60))\#($0)"}"# }
        let waiting = #"{"kind":"Phase","id":"w","spec":{"waitFor":[\#((0..<200).map { "\"\(String(repeating: "z", count: 60))\($0)\"" }.joined(separator: ","))]}}"#
        #expect(problems("[" + (ids + [waiting]).joined(separator: ",") + "]").count == 200)
    }

    @Test func largeLabelSetsCompareInLinearTime() {
        let labels = (0..<50_000).map { #""k\#($0)":"v""# }.joined(separator: ",")
        let text = #"[{"kind":"Phase","id":"a","spec":{"selector":{"matchLabels":{\#(labels)}}}}]"#
        guard case .success(let json) = DocumentParser.parse(text, format: .json) else { return }
        let decoded = ManifestDecoder.decode(json).manifest
        #expect(decoded.phases[0].spec.labels.count == 50_000)
        #expect(decoded == ManifestDecoder.decode(json).manifest)
    }
}

/// A state file written before a rule was added must not be thrown away by it.
@Suite struct StoredStateRulesTests {
    @Test func aStoredPlanBreakingANewerRuleIsKeptAndReported() throws {
        let stored = try JSONParser.parse(#"""
        {"format": "\#(PlanterState.format)", "planId": "p-1",
         "phases": [{"kind": "Phase", "id": "a", "spec": {"retry": {"maxAttempts": 2, "x-factor": 0.5}, "x-timeout": "45d"}}],
         "runs": []}
        """#)
        guard case .success(let state) = PlanterState.decode(stored) else {
            Issue.record("the state was refused")
            return
        }
        #expect(state.current?.planId == "p-1" && state.current?.manifest.phases.map(\.id) == ["a"])
        #expect(state.loadProblems.count == 2, "\(state.loadProblems)")
        #expect(state.loadProblems.contains { $0.path.hasSuffix("/0/spec/x-timeout") })
    }
}
