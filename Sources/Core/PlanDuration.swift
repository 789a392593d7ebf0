import PlanterJSON

/// A duration as manifests write it: `300ms`, `5s`, `2m`, `1h`, `1d`, compounds like `1m30s`, or a
/// bare number of seconds. Kept in milliseconds; written back in the largest exact unit.
/// Every duration read from input is between 0 and `maximum`, so arithmetic on it cannot overflow.
public struct PlanDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The longest duration any input may give: 30 days.
    public static let maximum = PlanDuration(milliseconds: 30 * 86_400_000)

    /// Why a value is not a duration; `description` completes "… must be a duration like …, ".
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case notADuration
        case negative
        case notFinite
        case tooLong

        public var description: String {
            switch self {
            case .notADuration: return "not a duration"
            case .negative: return "negative"
            case .notFinite: return "not a finite number"
            case .tooLong: return "longer than the maximum of 30 days"
            }
        }
    }

    /// Reads a JSON number (seconds) or string; never traps, whatever the input.
    public static func parse(_ json: JSON) -> Result<PlanDuration, ParseError> {
        switch json {
        case .int(let seconds): return fromMilliseconds(Double(seconds) * 1000)
        case .double(let seconds): return fromMilliseconds(seconds * 1000)
        case .string(let text): return parse(text)
        default: return .failure(.notADuration)
        }
    }

    public static func parse(_ text: String) -> Result<PlanDuration, ParseError> {
        let text = text.trimmingSpaces
        guard !text.isEmpty else { return .failure(.notADuration) }
        if let seconds = Double(text) { return fromMilliseconds(seconds * 1000) }
        // Compound form: number+unit, repeated (`1h30m`, `1.5s`). ASCII digits only.
        var total: Double = 0
        var rest = Substring(text)
        while !rest.isEmpty {
            let number = rest.prefix { ($0 >= "0" && $0 <= "9") || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return .failure(.notADuration) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            case "d": scale = 86_400_000
            default: return .failure(.notADuration)
            }
            total += value * scale
            // Checked at each step, so a long run of parts cannot grow past what a Double holds exactly.
            if total > Double(maximum.milliseconds) { return .failure(.tooLong) }
        }
        return fromMilliseconds(total)
    }

    private static func fromMilliseconds(_ value: Double) -> Result<PlanDuration, ParseError> {
        guard value.isFinite else { return .failure(.notFinite) }
        guard value >= 0 else { return .failure(.negative) }
        let rounded = value.rounded()
        guard rounded <= Double(maximum.milliseconds) else { return .failure(.tooLong) }
        return .success(PlanDuration(milliseconds: Int64(rounded)))
    }

    /// For values already validated; nil for anything that is not a duration in range.
    public init?(json: JSON) {
        guard case .success(let duration) = Self.parse(json) else { return nil }
        self = duration
    }

    public init?(parsing text: String) {
        guard case .success(let duration) = Self.parse(text) else { return nil }
        self = duration
    }

    public var seconds: Double { Double(milliseconds) / 1000 }

    public var duration: Duration { .milliseconds(milliseconds) }

    public var description: String {
        let ms = milliseconds
        if ms == 0 { return "0s" }
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where ms % size == 0 {
            return "\(ms / size)\(unit)"
        }
        return "\(ms)ms"
    }

    public static func < (lhs: PlanDuration, rhs: PlanDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }
}
