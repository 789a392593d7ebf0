import PlanterCore
import PlanterDocument
import PlanterJSON
import Testing

@testable import PlanterHost

@Suite struct ManifestDecodingTests {
    static let camel = """
    [{"kind":"Phase","id":"preflight","spec":{"description":"Check"}},
     {"kind":"Phase","id":"init","spec":{"description":"Generate IDs","selector":{"matchLabels":{"phase":"initialization"}},
      "instanceMode":"immediate","waitFor":{"phases":["preflight"],"timeout":"2m"},"retry":{"maxAttempts":5},
      "onFailure":{"action":"continue","spec":{"message":["Initialization failed"],"labels":{"mode":"fallback"},
      "notify":{"email":["ops@example.com"],"slack":["#ops"]}}},"onSuccess":{"action":"raise"}}}]
    """
    static let pascalSnake = """
    [{"Kind":"Phase","Id":"preflight","Spec":{"description":"Check"}},
     {"Kind":"Phase","Id":"init","Spec":{"description":"Generate IDs","selector":{"match_labels":{"phase":"initialization"}},
      "instance_mode":"immediate","wait_for":{"phases":["preflight"],"timeout":"120s"},"retry":{"max_attempts":5},
      "on_failure":{"action":"continue","spec":{"message":["Initialization failed"],"labels":{"mode":"fallback"},
      "notify":{"email":"ops@example.com","slack":"#ops"}}},"on_success":{"action":"raise"}}}]
    """
    static let mixed = """
    {"phases":[{"Kind":"Phase","Id":"preflight","Spec":{"description":"Check"}},
     {"Kind":"Phase","Id":"init","Spec":{"description":"Generate IDs","selector":{"matchLabels":{"phase":"initialization"}},
      "instanceMode":"immediate","waitFor":{"phases":["preflight"],"timeout":"2m"},"retry":{"maxAttempts":"5"},
      "onFailure":{"action":"continue","spec":{"message":"Initialization failed","labels":{"mode":"fallback"},
      "notify":{"email":["ops@example.com"],"slack":["#ops"]}}},"on_success":{"action":"raise"}}}]}
    """

    func decode(_ text: String) throws -> Manifest {
        let json = try JSONParser.parse(text)
        let (manifest, problems) = ManifestDecoder.decode(json)
        #expect(!problems.hasErrors, "\(problems.all)")
        return manifest
    }

    @Test func threeSpellingsDecodeToTheSameModel() throws {
        let a = try decode(Self.camel), b = try decode(Self.pascalSnake), c = try decode(Self.mixed)
        #expect(a == b)
        #expect(a == c)
        let spec = a.phases[1].spec
        #expect(spec.waitFor?.phases == ["preflight"])
        #expect(spec.waitFor?.timeout == PlanDuration(milliseconds: 120_000))
        #expect(spec.retry?.maxAttempts == 5)
        #expect(spec.onFailure?.action == .continue)
        #expect(spec.onFailure?.labels["mode"] == "fallback")
        #expect(spec.onFailure?.notify?.slack == ["#ops"])
        #expect(spec.labels["phase"] == "initialization")
    }

    @Test func canonicalOutputIsCamelCaseWhateverTheInput() throws {
        let canonical = try decode(Self.pascalSnake).canonicalJSON.serialized
        for key in ["\"kind\"", "\"id\"", "\"spec\"", "\"matchLabels\"", "\"waitFor\"", "\"maxAttempts\"", "\"onFailure\"",
                    "\"instanceMode\"", "\"onSuccess\""] {
            #expect(canonical.contains(key), "missing \(key) in \(canonical)")
        }
        for key in ["Kind", "wait_for", "max_attempts", "on_failure", "match_labels"] { #expect(!canonical.contains(key)) }
        // Canonical output decodes back to the same model.
        #expect(try decode(canonical) == decode(Self.camel))
    }

    @Test func emptySectionsMeanNotSetAndHandlerNeedsNoAction() throws {
        let manifest = try decode("""
        [{"kind":"Phase","id":"a","spec":{"retry":{},"onSuccess":{},"waitFor":{},"onFailure":{"spec":{"message":["m"]}}}}]
        """)
        let spec = manifest.phases[0].spec
        #expect(spec.retry == nil)
        #expect(spec.onSuccess == nil)
        #expect(spec.waitFor == nil)
        #expect(spec.onFailure?.action == nil)
        #expect(spec.onFailure?.messages == ["m"])
    }

    @Test func extensionKeysRoundTripVerbatimAtEveryLevel() throws {
        let text = """
        [{"kind":"Phase","id":"a","x-owner":{"team":"core","n":[1,2.5,true,null]},
          "spec":{"x-run":{"script":"echo hi","env":{"A":"1"}},"x-timeout":"5s","x-note":"keep",
                  "retry":{"maxAttempts":2,"x-initialDelay":"10ms"},"selector":{"matchLabels":{"k":"v"},"x-sel":1},
                  "onFailure":{"action":"raise","x-h":true,"spec":{"x-hs":"y"}}}}]
        """
        let manifest = try decode(text)
        let phase = manifest.phases[0]
        #expect(phase.extensions["x-owner"] == ["team": "core", "n": [1, 2.5, true, nil]])
        #expect(phase.spec.run == ["script": "echo hi", "env": ["A": "1"]])
        #expect(phase.spec.executionTimeout == PlanDuration(milliseconds: 5000))
        #expect(phase.spec.retry?.initialDelay == PlanDuration(milliseconds: 10))
        let back = try JSONParser.parse(manifest.canonicalJSON.serialized)
        let original = try JSONParser.parse(text)
        #expect(back == original)
    }

    @Test func yamlIsAccepted() throws {
        let yaml = """
        - Kind: Phase
          Id: a
          Spec:
            wait_for: {phases: [b]}
            retry: {max_attempts: 3}
        - kind: Phase
          id: b
          spec: {description: "yes", x-run: {script: "true"}}
        """
        switch DocumentParser.parse(yaml, format: .yaml) {
        case .failure(let failure): Issue.record("\(failure)")
        case .success(let json):
            let (manifest, problems) = ManifestDecoder.decode(json)
            #expect(!problems.hasErrors)
            #expect(manifest.phases[0].spec.retry?.maxAttempts == 3)
            #expect(manifest.phases[1].spec.run == ["script": "true"])
        }
    }

    @Test func durations() {
        #expect(PlanDuration(parsing: "300ms")?.milliseconds == 300)
        #expect(PlanDuration(parsing: "5s")?.milliseconds == 5000)
        #expect(PlanDuration(parsing: "2m")?.milliseconds == 120_000)
        #expect(PlanDuration(parsing: "1h")?.milliseconds == 3_600_000)
        #expect(PlanDuration(parsing: "1m30s")?.milliseconds == 90_000)
        #expect(PlanDuration(parsing: "1.5")?.milliseconds == 1500)
        #expect(PlanDuration(parsing: "5 parsecs") == nil)
        #expect(PlanDuration(parsing: "-1s") == nil)
        #expect(PlanDuration(parsing: "") == nil)
        #expect(PlanDuration(milliseconds: 90_000).description == "90s")
        #expect(PlanDuration(milliseconds: 120_000).description == "2m")
        #expect(PlanDuration(milliseconds: 250).description == "250ms")
    }
}
