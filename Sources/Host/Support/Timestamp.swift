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

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T10:04:05.123Z`.
    public var iso8601: String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((nanoseconds / 1_000_000) % 1000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let ms = String(millis)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 3 - ms.count) + ms + "Z"
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
