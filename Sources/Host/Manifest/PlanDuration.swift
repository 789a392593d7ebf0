import PlanterJSON

/// A duration as manifests write it: `300ms`, `5s`, `2m`, `1h`, compounds like `1m30s`, or a
/// bare number of seconds. Kept in milliseconds; written back in the largest exact unit.
public struct PlanDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func seconds(_ value: Double) -> PlanDuration { PlanDuration(milliseconds: Int64(value * 1000)) }

    public init?(json: JSON) {
        switch json {
        case .int(let seconds) where seconds >= 0: self.init(milliseconds: seconds * 1000)
        case .double(let seconds) where seconds >= 0 && seconds.isFinite: self.init(milliseconds: Int64(seconds * 1000))
        case .string(let text): self.init(parsing: text)
        default: return nil
        }
    }

    public init?(parsing text: String) {
        let text = text.trimmingSpaces
        guard !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds >= 0, seconds.isFinite {
            self.init(milliseconds: Int64(seconds * 1000))
            return
        }
        var total: Double = 0
        var rest = Substring(text)
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
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
            default: return nil
            }
            total += value * scale
        }
        guard total.isFinite, total < 9e15 else { return nil }
        self.init(milliseconds: Int64(total.rounded()))
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
