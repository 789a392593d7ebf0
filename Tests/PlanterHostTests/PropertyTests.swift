import ExecutorRuntime
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON
import Testing

@testable import PlanterHost

/// Generated manifests, written in every spelling the decoder accepts, must decode to one
/// model whose canonical JSON is a fixed point, and diff as unchanged against each other.
/// Plain loops over a seeded generator: a failure names its case number and replays exactly.
@Suite struct PropertyTests {
    static let cases = 400

    @Test func everySpellingDecodesToTheCanonicalManifest() throws {
        var random = Random(seed: 0x5EED_0001)
        for index in 0..<Self.cases {
            let canonical = random.manifest()
            let spelled = random.spell(canonical)
            let manifest = try decodeWithoutProblems(spelled, case: index)
            #expect(manifest.canonicalJSON == canonical, "case \(index): decoded \(manifest.canonicalJSON.serialized)\nfrom \(spelled.text)")
        }
    }

    @Test func canonicalJSONRoundTripsAndIsStable() throws {
        var random = Random(seed: 0x5EED_0002)
        for index in 0..<Self.cases {
            let canonical = random.manifest()
            let spelled = random.spell(canonical)
            let manifest = try decodeWithoutProblems(spelled, case: index)
            let once = manifest.canonicalJSON.serialized
            let again = try decodeWithoutProblems(Spelled(text: once, format: .json), case: index)
            #expect(again == manifest, "case \(index): \(once)")
            #expect(again.canonicalJSON.serialized == once, "case \(index): canonical JSON changed when written again")
        }
    }

    @Test func aPlanDiffedWithItselfInAnotherSpellingIsEmpty() throws {
        var random = Random(seed: 0x5EED_0003)
        for index in 0..<Self.cases {
            let canonical = random.manifest()
            let first = try decodeWithoutProblems(random.spell(canonical), case: index)
            let second = try decodeWithoutProblems(random.spell(canonical), case: index)
            for (old, new) in [(first, first), (first, second), (second, first)] {
                let diff = PlanDiff(old: old, new: new)
                #expect(diff.added.isEmpty && diff.removed.isEmpty && diff.changed.isEmpty,
                        "case \(index): \(diff.json.serialized)")
                #expect(diff.unchanged == new.phases.map(\.id), "case \(index)")
            }
            // And the generated plans are valid ones, so the validator agrees on both spellings.
            for manifest in [first, second] {
                if case .failure(let failure) = PlanValidator.validate(manifest: manifest, registry: Self.registry) {
                    Issue.record("case \(index): \(failure)")
                }
            }
        }
    }

    /// The generator itself: a broken spelling would make the tests above vacuous.
    @Test func spellingsReallyDiffer() {
        var random = Random(seed: 7)
        var canonical = random.manifest(minimumPhases: 4)
        while !canonical.serialized.contains("\"waitFor\"") { canonical = random.manifest(minimumPhases: 4) }
        var texts: [Spelling: String] = [:]
        for spelling in Spelling.allCases {
            texts[spelling] = random.spell(canonical, as: spelling).text
        }
        #expect(Set(texts.values).count == Spelling.allCases.count)
        #expect(texts[.camelJSON]!.contains("\"waitFor\""))
        #expect(texts[.pascalSnakeJSON]!.contains("\"Kind\"") && texts[.pascalSnakeJSON]!.contains("\"wait_for\""))
        #expect(texts[.pascalSnakeYAML]!.contains("\"Spec\":\n"))
    }

    static let registry = ExecutorRegistry(deployment: Deployment(), catalog: PluginCatalog(), environment: [:])

    func decodeWithoutProblems(_ spelled: Spelled, case index: Int) throws -> Manifest {
        let document: JSON
        switch DocumentParser.parse(spelled.text, format: spelled.format) {
        case .success(let parsed): document = parsed
        case .failure(let failure):
            Issue.record("case \(index): \(failure) in\n\(spelled.text)")
            throw failure
        }
        let (manifest, problems) = ManifestDecoder.decode(document)
        #expect(problems.all.isEmpty, "case \(index): \(problems.all) in\n\(spelled.text)")
        return manifest
    }
}

/// A seeded generator (SplitMix64) and the few draws the generators need, so every run
/// sees the same cases.
struct Random: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }
}

/// Random manifests in canonical form (what `canonicalJSON` writes): DAG-shaped waitFor lists,
/// retries, handlers, labels and `x-` extensions holding nested JSON.
extension Random {
    /// Ids and text with what breaks naive code: `/` and `~` (JSON pointers), quotes,
    /// non-ASCII, a combining mark, digits only (read back from a number).
    mutating func text(_ length: ClosedRange<Int> = 1...8) -> String {
        let pieces = ["a", "b", "z", "Q", "0", "7", "-", "_", ".", " ", "/", "~", "\"", "\\", "é", "ü", "日", "😀", "e\u{301}", ":", "#"]
        return (0..<int(length)).map { _ in pick(pieces) }.joined()
    }

    mutating func duration() -> JSON { .string(PlanDuration(milliseconds: Int64(pick([0, 250, 1000, 90_000, 3_600_000, 1500]))).description) }

    mutating func nested(_ depth: Int) -> JSON {
        switch int(0...(depth > 2 ? 4 : 6)) {
        case 0: return .null
        case 1: return .bool(chance(0.5))
        case 2: return .int(Int64(int(-1000...1000)))
        case 3: return .double(Double(int(-40...40)) + 0.5)
        case 4: return .string(text(0...6))
        case 5: return .array((0..<int(0...3)).map { _ in nested(depth + 1) })
        default: return .object(JSONObject((0..<int(0...3)).map { i in ("k\(i)\(text(0...2))", nested(depth + 1)) as (String, JSON) }))
        }
    }

    mutating func extensions(_ probability: Double) -> [(String, JSON)] {
        chance(probability) ? [("x-\(pick(["meta", "Note", "owner"]))", nested(0))] : []
    }

    mutating func labels(_ count: ClosedRange<Int>) -> JSON {
        let keys = ["tier", "zone", "app", "k/v", "ä~"].shuffled(using: &self).prefix(int(count))
        return .object(JSONObject(keys.map { ($0, JSON.string(text(0...5))) }))
    }

    mutating func manifest(minimumPhases: Int = 0) -> JSON {
        var ids: [String] = []
        let count = int(minimumPhases...max(minimumPhases, 7))
        while ids.count < count {
            let id = chance(0.1) ? String(int(0...999)) : text()
            if !id.trimmingSpaces.isEmpty && !ids.contains(id) { ids.append(id) }
        }
        return .array(ids.indices.map { phase(ids[$0], earlier: Array(ids[..<$0])) })
    }

    mutating func phase(_ id: String, earlier: [String]) -> JSON {
        var spec = JSONObject()
        if chance(0.5) { spec.append("description", .string(text(0...12))) }
        if chance(0.4) {
            let extensions = self.extensions(0.3)
            let matchLabels = labels(extensions.isEmpty ? 1...3 : 0...3)
            spec.append("selector", .object(JSONObject([("matchLabels", matchLabels)] + extensions)))
        }
        if chance(0.3) { spec.append("instanceMode", .string(pick(InstanceMode.allCases).rawValue)) }
        if !earlier.isEmpty, chance(0.6) {
            var waitFor = JSONObject([("phases", .array(earlier.shuffled(using: &self)
                .prefix(int(1...earlier.count)).map(JSON.string)))])
            if chance(0.3) { waitFor.append("timeout", duration()) }
            for (key, value) in extensions(0.2) { waitFor.append(key, value) }
            spec.append("waitFor", .object(waitFor))
        }
        if chance(0.4) {
            var retry = JSONObject()
            if chance(0.7) { retry.append("maxAttempts", .int(Int64(int(1...10)))) }
            if chance(0.3) { retry.append("x-initialDelay", duration()) }
            if chance(0.3) { retry.append("x-factor", .double(Double(int(2...12)) / 2)) }
            if chance(0.3) { retry.append("x-jitter", .double(Double(int(0...4)) / 8)) }
            if retry.isEmpty { retry.append("maxAttempts", 2) }
            spec.append("retry", .object(retry))
        }
        if chance(0.4) { spec.append("onFailure", handler()) }
        if chance(0.3) { spec.append("onSuccess", handler()) }
        if chance(0.4) { spec.append("x-run", .object(JSONObject([("script", .string(text(0...20))), ("args", nested(1))]))) }
        if chance(0.2) { spec.append("x-timeout", duration()) }
        for (key, value) in extensions(0.2) { spec.append(key, value) }
        let phase: [(String, JSON)] = [("kind", .string("Phase")), ("id", .string(id)), ("spec", .object(spec))]
        return .object(JSONObject(phase + extensions(0.15)))
    }

    mutating func handler() -> JSON {
        var handler = JSONObject()
        if chance(0.7) { handler.append("action", .string(pick(HandlerAction.allCases).rawValue)) }
        var spec = JSONObject()
        if chance(0.5) { spec.append("message", .array((0..<int(1...2)).map { _ in JSON.string(text(0...10)) })) }
        if chance(0.3) { spec.append("labels", labels(1...2)) }
        if chance(0.3) {
            var notify = JSONObject()
            if chance(0.6) { notify.append("email", .array((0..<int(1...2)).map { _ in JSON.string(text() + "@example.com") })) }
            if chance(0.6) { notify.append("slack", .array([.string("#" + text(1...4))])) }
            for (key, value) in extensions(notify.isEmpty ? 1 : 0.2) { notify.append(key, value) }
            spec.append("notify", .object(notify))
        }
        for (key, value) in extensions(0.15) { spec.append(key, value) }
        if !spec.isEmpty { handler.append("spec", .object(spec)) }
        if handler.isEmpty || chance(0.1) { for (key, value) in extensions(1) { handler.append(key, value) } }
        return .object(handler)
    }
}

/// A manifest as text, and the format to parse it with.
struct Spelled {
    var text: String
    var format: DocumentParser.Format
}
