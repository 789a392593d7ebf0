#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in nanoseconds since 1970, read with one clock_gettime: cheap enough to
/// stamp every event of a 100,000-phase run.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    public func milliseconds(since start: Timestamp) -> Int64 { (nanoseconds - start.nanoseconds) / 1_000_000 }

    public func adding(milliseconds: Int64) -> Timestamp { Timestamp(nanoseconds: nanoseconds + milliseconds * 1_000_000) }

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T10:04:05.123Z`. Written digit by digit:
    /// run results carry four of these per phase.
    public var iso8601: String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((nanoseconds / 1_000_000) % 1000)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var index = 0
            func put(_ value: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                for _ in 0..<width {
                    buffer[index] = UInt8(ascii: "0") + UInt8((value / divisor) % 10)
                    index += 1
                    divisor /= 10
                }
            }
            func put(_ character: Unicode.Scalar) {
                buffer[index] = UInt8(ascii: character)
                index += 1
            }
            put(Int(parts.tm_year) + 1900, 4); put("-"); put(Int(parts.tm_mon) + 1, 2); put("-"); put(Int(parts.tm_mday), 2)
            put("T"); put(Int(parts.tm_hour), 2); put(":"); put(Int(parts.tm_min), 2); put(":"); put(Int(parts.tm_sec), 2)
            put("."); put(millis, 3); put("Z")
            return index
        }
    }

    /// Parses what `iso8601` writes (and the same without milliseconds).
    public init?(iso8601 text: String) {
        let digits = Array(text.utf8)
        guard digits.count >= 20, digits.last == UInt8(ascii: "Z") else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for index in start..<(start + count) {
                let byte = digits[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var millis = 0
        if digits.count == 24, let value = number(20, 3) { millis = value }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        self.init(nanoseconds: Int64(seconds) * 1_000_000_000 + Int64(millis) * 1_000_000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
