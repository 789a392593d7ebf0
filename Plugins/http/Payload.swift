import ExecutorKit

/// One HTTP request, read from the payload (see README.md). Every rule broken gives a
/// `PluginError` whose message names the field, which the plugin turns into "invalid".
struct HTTPJob {
    var method: String = "GET"
    var url: String = ""
    /// In payload order; names as written.
    var headers: [(String, String)] = []
    var body: [UInt8]?
    /// Set for `json` bodies unless the headers name a content type themselves.
    var impliedContentType: String?
    var expect = StatusExpectation.default
    var timeoutMs: Int?
    var followRedirects = true

    static func parse(_ payload: JSON) -> Result<HTTPJob, PluginError> {
        do throws(PluginError) {
            return .success(try HTTPJob(payload))
        } catch {
            return .failure(error)
        }
    }

    private init(_ payload: JSON) throws(PluginError) {
        guard let object = payload.objectValue else {
            throw PluginError("payload must be an object, got \(payload.typeName)")
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }

        if let value = present("method") {
            guard let text = value.stringValue else {
                throw PluginError("payload.method must be a string, got \(value.typeName)")
            }
            guard !text.isEmpty, text.utf8.allSatisfy(Self.isTokenByte) else {
                throw PluginError("payload.method must be an HTTP method such as GET or POST, got \"\(text)\"")
            }
            method = text.uppercased()
        }

        guard let urlValue = present("url") else { throw PluginError("payload needs url (a string)") }
        guard let urlText = urlValue.stringValue else {
            throw PluginError("payload.url must be a string, got \(urlValue.typeName)")
        }
        let lower = urlText.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), urlText.utf8.count > 8,
            !urlText.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f })
        else {
            throw PluginError("payload.url must be an http:// or https:// URL without spaces, got \"\(urlText)\"")
        }
        url = urlText

        if let value = present("headers") {
            guard let members = value.objectValue else {
                throw PluginError("payload.headers must be an object of strings, got \(value.typeName)")
            }
            for member in members {
                guard !member.key.isEmpty, member.key.utf8.allSatisfy(Self.isTokenByte) else {
                    throw PluginError("payload.headers has an invalid header name \"\(member.key)\"")
                }
                guard let text = member.value.stringValue else {
                    throw PluginError("payload.headers.\(member.key) must be a string, got \(member.value.typeName)")
                }
                guard !text.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) else {
                    throw PluginError("payload.headers.\(member.key) must not contain line breaks")
                }
                headers.append((member.key, text))
            }
        }

        switch (present("body"), present("json")) {
        case (.some, .some):
            throw PluginError("payload must have either body or json, not both")
        case (let body?, nil):
            guard let text = body.stringValue else {
                throw PluginError("payload.body must be a string (use json for structured bodies), got \(body.typeName)")
            }
            self.body = Array(text.utf8)
        case (nil, let json?):
            var writer = JSONWriter(capacity: 256)
            writer.write(json)
            self.body = writer.bytes
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                impliedContentType = "application/json"
            }
        case (nil, nil):
            break
        }
        if let value = present("expect") { expect = try StatusExpectation(value, field: "payload.expect") }

        if let value = present("timeout") {
            guard let ms = Duration.milliseconds(value), ms > 0 else {
                throw PluginError("payload.timeout must be a positive duration such as \"5s\", \"300ms\" or \"1m30s\", "
                    + "got \(value.stringValue.map { "\"\($0)\"" } ?? value.typeName)")
            }
            timeoutMs = ms
        }

        if let value = present("followRedirects") {
            guard let flag = value.boolValue else {
                throw PluginError("payload.followRedirects must be a boolean, got \(value.typeName)")
            }
            followRedirects = flag
        }

        for member in object where !Self.knownKeys.contains(member.key) {
            throw PluginError("payload has an unknown key \"\(member.key)\" (known: \(Self.knownKeys.joined(separator: ", ")))")
        }
    }

    static let knownKeys = ["method", "url", "headers", "body", "json", "expect", "timeout", "followRedirects"]

    /// RFC 9110 token characters, for methods and header names.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// Which response statuses count as success: `200`, `"2xx"`, `"200-299"`, or a list of those.
struct StatusExpectation: Sendable, CustomStringConvertible {
    var ranges: [ClosedRange<Int>]
    var description: String

    static let `default` = StatusExpectation(ranges: [200...299], description: "2xx")

    init(ranges: [ClosedRange<Int>], description: String) {
        self.ranges = ranges
        self.description = description
    }

    init(_ value: JSON, field: String) throws(PluginError) {
        let items: [JSON]
        if let array = value.arrayValue {
            guard !array.isEmpty else { throw PluginError("\(field) must not be an empty list") }
            items = array
        } else {
            items = [value]
        }
        var ranges: [ClosedRange<Int>] = []
        var texts: [String] = []
        for (index, item) in items.enumerated() {
            let name = value.arrayValue == nil ? field : "\(field)[\(index)]"
            guard let range = Self.range(item) else {
                let shown = item.stringValue.map { "\"\($0)\"" } ?? item.intValue.map(String.init) ?? item.typeName
                throw PluginError("\(name) must be a status code (200), a class (\"2xx\") or a range (\"200-299\"), "
                    + "got \(shown)")
            }
            ranges.append(range)
            texts.append(item.stringValue ?? String(range.lowerBound))
        }
        self.ranges = ranges
        description = texts.joined(separator: ", ")
    }

    func matches(_ status: Int) -> Bool { ranges.contains { $0.contains(status) } }

    private static func range(_ item: JSON) -> ClosedRange<Int>? {
        if let code = item.intValue { return valid(code) ? code...code : nil }
        guard let raw = item.stringValue else { return nil }
        let text = raw.trimmingSpaces().lowercased()
        if text.count == 3, text.hasSuffix("xx"), let digit = Int(text.prefix(1)), (1...5).contains(digit) {
            return (digit * 100)...(digit * 100 + 99)
        }
        if let dash = text.firstIndex(of: "-") {
            guard let low = Int(text[..<dash].trimmingSpaces()),
                let high = Int(text[text.index(after: dash)...].trimmingSpaces()),
                valid(low), valid(high), low <= high
            else { return nil }
            return low...high
        }
        if let code = Int(text), valid(code) { return code...code }
        return nil
    }

    private static func valid(_ code: Int) -> Bool { (100...599).contains(code) }
}

/// Durations as the manifest writes them: `300ms`, `5s`, `2m`, `1h`, `1m30s`, or a number of seconds.
enum Duration {
    static func milliseconds(_ value: JSON) -> Int? {
        if let seconds = value.doubleValue {
            guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return nil }
            return Int((seconds * 1000).rounded())
        }
        guard let text = value.stringValue?.trimmingSpaces(), !text.isEmpty else { return nil }
        if let seconds = Double(text) { return milliseconds(.double(seconds)) }
        var total = 0.0
        var number = ""
        var chars = Array(text)
        var index = 0
        var sawUnit = false
        while index < chars.count {
            let char = chars[index]
            if char.isNumber || char == "." {
                number.append(char)
                index += 1
                continue
            }
            guard let amount = Double(number) else { return nil }
            number = ""
            let unit: Double
            if char == "m", index + 1 < chars.count, chars[index + 1] == "s" {
                unit = 1
                index += 2
            } else {
                switch char {
                case "h": unit = 3_600_000
                case "m": unit = 60_000
                case "s": unit = 1000
                default: return nil
                }
                index += 1
            }
            total += amount * unit
            sawUnit = true
        }
        chars.removeAll()
        guard number.isEmpty, sawUnit, total.isFinite, total < 1e12 else { return nil }
        return Int(total.rounded())
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
