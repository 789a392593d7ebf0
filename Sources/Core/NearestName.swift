/// "Did you mean …?": the known name a typo most likely meant. One rule for every message
/// that suggests a name (phase ids, executor names, field names).
public enum NearestName {
    /// The candidate nearest to `name`, if it is close enough to be a typo: within a third of
    /// its length, and not a wholesale replacement ("b" is not a typo of "a"). `normalize`
    /// maps both sides first (field names compare in any spelling: `isolatoin` → `isolation`).
    public static func closest(
        to name: String, in candidates: some Sequence<String>, normalize: (String) -> String = { $0 }
    ) -> String? {
        let key = normalize(name)
        let length = key.utf8.count
        guard length <= 64 else { return nil }  // typos are short; keeps the edit distance cheap
        let threshold = max(1, length / 3)
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate.utf8.count <= 256 {  // bounded work per candidate
            let distance = editDistance(key, normalize(candidate), giveUpAbove: threshold)
            if distance <= threshold, distance < length, distance < best?.distance ?? .max { best = (candidate, distance) }
        }
        return best?.name
    }

    /// `did you mean "x"? ` (with the trailing space), or nothing: the prefix of a message's hint.
    public static func hint(
        for name: String, in candidates: some Sequence<String>, normalize: (String) -> String = { $0 }
    ) -> String {
        closest(to: name, in: candidates, normalize: normalize).map { "did you mean \"\($0)\"? " } ?? ""
    }

    /// Levenshtein distance over bytes; stops early (returning more than `giveUpAbove`) once
    /// every entry of a row is past it, since the distance can only grow from there.
    public static func editDistance(_ a: String, _ b: String, giveUpAbove limit: Int = .max) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        if abs(a.count - b.count) > 3 { return abs(a.count - b.count) }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > limit { return rowMinimum }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
