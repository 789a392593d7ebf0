import Foundation
import PlanterJSON
import Testing

/// Invalid manifests and configs: exit 2, nothing runs, every problem with its JSON pointer.
@Suite struct ValidationTests {
    static let misspelledDependency = """
        [
          {"kind": "Phase", "id": "preflight"},
          {"kind": "Phase", "id": "deploy", "spec": {"waitFor": {"phases": ["prefligth"]}}}
        ]
        """

    @Test func unknownDependencyIsReportedWithPointerAndSuggestion() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", Self.misspelledDependency)
        let outcome = try await CLI.run(["run", plan])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains(#"/1/spec/waitFor/phases/0: unknown phase "prefligth""#), "\(outcome)")
        #expect(outcome.stderr.contains(#"did you mean "preflight"?"#), "\(outcome)")
        #expect(!outcome.stdout.contains("succeeded"), "nothing runs: \(outcome)")
    }

    @Test func everyProblemIsReportedAtOnce() async throws {
        let scratch = try Scratch()
        let marker = scratch.path("ran")
        let plan = try scratch.write("plan.json", """
            [
              \(shellPhase("preflight", "touch \(marker)"))
              ,{"kind": "Phase", "id": "deploy", "spec": {"waitFor": {"phases": ["prefligth"]}, "retry": {"maxAttempts": "many"}}},
              {"kind": "Task", "id": "deploy", "spec": {"selector": {"matchLabels": {"executor": "shel"}}, "x-timeout": "soon"}}
            ]
            """)
        let outcome = try await CLI.run(["validate", plan, "--output", "json"])
        #expect(outcome.status == 2, "\(outcome)")
        let report = try outcome.json()
        #expect(report["valid"] == false)
        let errors = (report["errors"]?.arrayValue ?? []).compactMap { $0.string("path") }
        #expect(Set(errors) == ["/1/spec/waitFor/phases/0", "/1/spec/retry/maxAttempts", "/2/kind", "/2/id",
                                "/2/spec/x-timeout", "/2/spec/selector/matchLabels/executor"], "\(outcome)")
        let messages = (report["errors"]?.arrayValue ?? []).compactMap { $0.string("message") }
        #expect(messages.contains { $0.contains(#"duplicate id "deploy""#) })
        #expect(messages.contains { $0.contains(#"executor "shel" is not defined"#) })

        // run refuses the same plan: exit 2, the text report on stderr, and nothing ran.
        let run = try await CLI.run(["run", plan])
        #expect(run.status == 2, "\(run)")
        #expect(run.stderr.contains("invalid (6 errors)"), "\(run)")
        for pointer in errors { #expect(run.stderr.contains(pointer + ":"), "\(pointer) missing from\n\(run)") }
        #expect(!scratch.exists("ran"), "an invalid plan never starts a phase")
    }

    @Test func pointersFollowTheDocumentsSpelling() async throws {
        // Field errors point at the keys as written (here snake_case / PascalCase)...
        let scratch = try Scratch()
        let plan = try scratch.write("plan.yaml", """
            - kind: Phase
              id: preflight
            - Kind: Phase
              Id: deploy
              Spec:
                wait_for: {Phases: [prefligth]}
                retry: {max_attempts: many}
            """)
        let outcome = try await CLI.run(["validate", plan, "--output", "json"])
        #expect(outcome.status == 2, "\(outcome)")
        let paths = try (outcome.json()["errors"]?.arrayValue ?? []).compactMap { $0.string("path") }
        #expect(paths.contains("/1/Spec/retry/max_attempts"), "\(outcome)")
        // ...and so do graph and dispatch errors found after decoding.
        #expect(paths.contains("/1/Spec/wait_for/Phases/0"), "\(outcome)")
        #expect(paths.count == 2, "\(outcome)")
    }

    @Test func invalidJSONReportsLineAndColumn() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", "[\n  {\"kind\": \"Phase\",\n   \"id\": \"a\" \"spec\": {}}\n]\n")
        let outcome = try await CLI.run(["run", plan])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains("line 3, column 14"), "\(outcome)")

        let json = try await CLI.run(["validate", plan, "--output", "json"])
        #expect(json.status == 2, "\(json)")
        let message = try json.json()["errors"]?.arrayValue?.first?.string("message") ?? ""
        #expect(message.contains("line 3, column 14"), "\(json)")
    }

    @Test func invalidYAMLReportsLineAndColumn() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.yaml", "- kind: Phase\n  id: a\n   spec: {}\n")
        let outcome = try await CLI.run(["validate", plan])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains("line 3"), "\(outcome)")
    }

    @Test func unknownFieldIsOnlyAWarning() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", """
            [{"kind": "Phase", "id": "a", "spec": {"colour": "red", "x-note": "extensions are fine"}, "x-owner": "me"}]
            """)
        let outcome = try await CLI.run(["validate", plan, "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let report = try outcome.json()
        #expect(report["valid"] == true)
        #expect(report["errors"] == [])
        let warnings = report["warnings"]?.arrayValue ?? []
        #expect(warnings.count == 1, "x- keys are not warned about: \(warnings)")
        #expect(warnings.first?.string("path") == "/0/spec/colour")
        #expect(warnings.first?.string("message")?.contains(#"unknown field "colour""#) == true)

        let text = try await CLI.run(["validate", plan])
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("valid, 1 phase, 1 warning"), "\(text)")
        #expect(text.stderr.contains("/0/spec/colour"), "\(text)")
    }

    @Test func cycleIsInvalid() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", """
            [{"kind": "Phase", "id": "a", "spec": {"waitFor": ["b"]}},
             {"kind": "Phase", "id": "b", "spec": {"waitFor": ["a"]}}]
            """)
        let outcome = try await CLI.run(["validate", plan])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains("dependency cycle"), "\(outcome)")
    }

    @Test func missingPlanFileIsInvalid() async throws {
        let scratch = try Scratch()
        let outcome = try await CLI.run(["run", scratch.path("nope.json")])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains("no such file"), "\(outcome)")
    }

    @Test func planFromStandardInput() async throws {
        // `-` reads the plan from stdin: a valid one validates, and its problems are reported
        // with pointers, as for a file.
        let valid = manifest(shellPhase("a", "true"), shellPhase("b", "true", waitFor: ["a"]))
        let outcome = try await CLI.run(["validate", "-"], input: valid)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("valid, 2 phases"), "\(outcome)")

        let yaml = "- kind: Phase\n  id: y\n  spec: {selector: {matchLabels: {executor: shell}}, x-run: {script: \"true\"}}\n"
        let fromYAML = try await CLI.run(["validate", "-", "--output", "json"], input: yaml)
        #expect(fromYAML.status == 0, "\(fromYAML)")
        #expect(try fromYAML.json()["valid"] == true)

        let invalid = manifest(shellPhase("a", "true", waitFor: ["nope"]))
        let bad = try await CLI.run(["validate", "-"], input: invalid)
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.stderr.contains("/0/spec/waitFor/phases/0"), "\(bad)")

        // An empty standard input is no plan, and says so (it is not a missing file).
        let empty = try await CLI.run(["validate", "-"], input: "")
        #expect(empty.status == 2, "\(empty)")
        #expect(!empty.stderr.contains("no such file"), "\(empty)")
    }

    @Test func invalidConfigIsReportedWithPointers() async throws {
        let scratch = try Scratch()
        let config = try scratch.write("planter.yaml", """
            parallel: 0
            executors:
              - name: build
                plugin: shell
                secrets: [TOKEN]
              - plugin: shell
            """)
        let plan = try scratch.write("plan.json", manifest(#"{"kind": "Phase", "id": "a"}"#))
        let outcome = try await CLI.run(["run", plan, "--config", config])
        #expect(outcome.status == 2, "\(outcome)")
        for pointer in ["/parallel", "/executors/0/secrets/0", "/executors/1/name"] {
            #expect(outcome.stderr.contains(pointer + ":"), "\(pointer) missing from\n\(outcome)")
        }
        #expect(outcome.stderr.contains(#"unknown secret "TOKEN""#), "\(outcome)")
    }

    @Test func unknownPluginMakesOnlyItsPhasesInvalid() async throws {
        let scratch = try Scratch()
        let config = try scratch.write("planter.yaml", """
            executors:
              - {name: deploy, plugin: kubernetes}
            """)
        let plain = try scratch.write("plain.json", manifest(#"{"kind": "Phase", "id": "a"}"#))
        let ok = try await CLI.run(["run", plain, "--config", config, "--output", "json"])
        #expect(ok.status == 0, "other executors still work: \(ok)")
        #expect(ok.stderr.contains(#"no plugin named "kubernetes""#), "a warning says why: \(ok)")

        let uses = try scratch.write("uses.json", manifest(
            #"{"kind": "Phase", "id": "a", "spec": {"selector": {"matchLabels": {"executor": "deploy"}}}}"#))
        let bad = try await CLI.run(["run", uses, "--config", config])
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.stderr.contains(#"/0/spec/selector/matchLabels/executor: executor "deploy" is unavailable"#), "\(bad)")
    }
}
