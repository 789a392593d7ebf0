import Hummingbird
import HummingbirdCore
import PlanterCore
import PlanterHost
import PlanterStore

/// Query options, read once per request. Booleans: `true`/`1`/`yes` or bare (`?wait`),
/// `false`/`0`/`no`; anything else is a 400 naming the parameter. Every name is also read in
/// its snake_case spelling (`run_id` for `runId`), as manifests accept both; when a request
/// sends both, the camelCase one wins.
struct Query {
    private let parameters: FlatDictionary<Substring, Substring>

    init(_ request: Request) {
        parameters = request.uri.query == nil ? [:] : request.uri.queryParameters
    }

    /// The value under `name` or its snake_case spelling, and the spelling that was sent
    /// (error messages name what the client wrote).
    private func lookup(_ name: Substring) -> (value: Substring, sent: String)? {
        if let value = parameters[name] { return (value, String(name)) }
        guard !parameters.isEmpty else { return nil }
        let snake = Self.snakeCase(name)
        guard snake != name, let value = parameters[snake] else { return nil }
        return (value, String(snake))
    }

    /// `withDependents` → `with_dependents`. Names are our own ASCII identifiers: bytes, not Characters.
    static func snakeCase(_ name: Substring) -> Substring {
        let utf8 = name.utf8
        guard utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count + 4)
        for byte in utf8 {
            if byte >= 0x41 && byte <= 0x5A {
                bytes.append(UInt8(ascii: "_"))
                bytes.append(byte + 32)
            } else {
                bytes.append(byte)
            }
        }
        return Substring(String(decoding: bytes, as: UTF8.self))
    }

    /// A filter value; empty (`?runId=`) is no filter.
    func string(_ name: Substring) -> String? {
        guard let (value, _) = lookup(name) else { return nil }
        return value.isEmpty ? nil : String(value)
    }

    /// The value as sent, empty included (for parameters where empty is an error, not "no filter").
    func text(_ name: Substring) -> String? {
        lookup(name).map { String($0.value) }
    }

    /// Plan ids are Planter's own (`p-20261202T130405-1a2b3c`): a bound and a character set
    /// keep anything else out of the graph cache's keys and the log.
    static let maximumPlanIdLength = 200

    /// What the OpenAPI document's `PlanId` pattern allows: `[A-Za-z0-9._:-]`.
    static func isPlanIdScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "-", "_", ".", ":": return true
        default: return false
        }
    }

    /// A plan revision's id; empty, too long or with other characters is a 400 naming the parameter.
    func planId(_ name: Substring) throws(APIError) -> String? {
        try identifier(name, "a plan id", listedBy: "GET /plans", allowsEmpty: false)
    }

    /// A run's id (Planter's own, `r-20261202T130405-1a2b3c4d`), held to the same bound and
    /// characters as plan ids; `allowsEmpty`: an empty value means "none".
    func runId(_ name: Substring, allowsEmpty: Bool) throws(APIError) -> String? {
        try identifier(name, "a run id", listedBy: "GET /runs", allowsEmpty: allowsEmpty)
    }

    private func identifier(_ name: Substring, _ what: String, listedBy list: String, allowsEmpty: Bool) throws(APIError) -> String? {
        guard let (value, sent) = lookup(name) else { return nil }
        let problem: String?
        if value.isEmpty {
            problem = allowsEmpty ? nil : "expected \(what) (\(list) lists them), got an empty value"
        } else if value.count > Self.maximumPlanIdLength {
            problem = "\(what) is at most \(Self.maximumPlanIdLength) characters, got \(value.count)"
        } else if !value.unicodeScalars.allSatisfy(Self.isPlanIdScalar) {
            problem = "\(what) has only letters, digits and - _ . :, got \"\(value.prefix(80))\""
        } else {
            problem = nil
        }
        if let problem { throw APIError.badParameter(sent, problem) }
        return String(value)
    }

    /// One of `allowed` (any letter case), as written; empty is not one of them.
    func choice(_ name: Substring, _ allowed: [String]) throws(APIError) -> String? {
        guard let (value, sent) = lookup(name) else { return nil }
        let lowered = value.lowercased()
        guard allowed.contains(lowered) else {
            throw APIError.badParameter(sent, "expected one of \(allowed.joined(separator: ", ")), got \"\(value)\"")
        }
        return lowered
    }

    func bool(_ name: Substring) throws(APIError) -> Bool {
        guard let (value, sent) = lookup(name) else { return false }
        // Exactly the spellings the OpenAPI document lists (`Flag`): `TRUE` is not one of them.
        switch value {
        case "", "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw APIError.badParameter(sent, "expected true or false, got \"\(value)\"")
        }
    }

    /// A whole number within `range`; anything else (empty, not a number, too large for any
    /// integer, out of the range) is a 400 that names the parameter and the range.
    func int(_ name: Substring, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let (value, sent) = lookup(name) else { return nil }
        let allowed = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let number = Int(value) else {
            // Digits that do not fit an Int are out of range, not "not a number".
            let digits = value.drop { $0 == "-" || $0 == "+" }
            let reason = !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit) ? "out of range" : "not a whole number"
            throw APIError.badParameter(sent, "\(reason): expected \(allowed), got \"\(value)\"")
        }
        guard range.contains(number) else { throw APIError.badParameter(sent, "out of range: expected \(allowed), got \(number)") }
        return number
    }

    /// Paging of a history list: `before` and/or `after` (cursors from earlier answers; both: the
    /// rows between them, from `after` on) and `limit` (0 through `maximum`, `defaultLimit` when absent).
    func page(defaultLimit: Int, maximum: Int) throws(APIError) -> PageRequest {
        let before = try int("before", in: 0...Int.max)
        let after = try int("after", in: 0...Int.max)
        return PageRequest(before: before.map(Int64.init), after: after.map(Int64.init),
                           limit: try int("limit", in: 0...maximum) ?? defaultLimit)
    }

    /// Earliest and latest `since` a Timestamp holds (nanoseconds in an Int64: 1677-09-21 to 2262-04-11);
    /// the API promises whole years 1678 to 2261.
    static let sinceYears = 1678...2261

    /// An RFC 3339 date-time within `sinceYears`; anything else (empty too) is a 400 naming the parameter.
    func timestamp(_ name: Substring) throws(APIError) -> Timestamp? {
        guard let (value, sent) = lookup(name) else { return nil }
        let text = String(value)
        guard let time = Timestamp(iso8601: text) else {
            throw APIError.badParameter(sent, "expected an RFC 3339 date-time such as 2026-01-02T03:04:05Z, got \"\(text)\"")
        }
        // The parser clamps what an Int64 of nanoseconds cannot hold; the year is checked on
        // the text so that clamped values never pass for real ones.
        let year = Int(text.prefix(4)) ?? 0
        guard Self.sinceYears.contains(year), time.nanoseconds != .min, time.nanoseconds != .max else {
            throw APIError.badParameter(sent, "out of range: expected a date-time from \(Self.sinceYears.lowerBound)-01-01T00:00:00Z "
                                        + "to \(Self.sinceYears.upperBound)-12-31T23:59:59Z, got \"\(text)\"")
        }
        return time
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
