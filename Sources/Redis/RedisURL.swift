/// Where Redis is: `redis://[[user]:password@]host[:port][/db]` (REDIS_URL). `rediss://` is
/// refused: hiredis 0.14 has no TLS, and a URL that asks for TLS must not silently get plain TCP.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The ACL user (`AUTH user password`); nil with a password alone (`AUTH password`).
    public var user: String?
    public var password: String?
    public var database: Int

    public init(host: String, port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        let credentials = password == nil ? "" : "\(user ?? ""):***@"
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(shownHost):\(port)/\(database)"
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// Databases Redis numbers by default are 0-15; a server configured with more accepts more.
    static let maximumDatabase = 1_000_000

    public static func parse(_ text: String) throws(ParseError) -> RedisURL {
        func fail(_ why: String) -> ParseError {
            ParseError(description: "REDIS_URL \"\(redacted(text))\" \(why); expected redis://[:password@]host[:port][/db]")
        }
        if text.lowercased().hasPrefix("rediss://") {
            throw ParseError(description: "REDIS_URL \"\(redacted(text))\" asks for TLS (rediss://), which this Planter cannot "
                + "speak: Debian's hiredis 0.14 has no TLS. Use redis:// on a private network, or a local TLS tunnel "
                + "(stunnel, spiped) and point redis:// at it")
        }
        guard text.lowercased().hasPrefix("redis://") else { throw fail("must start with redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        guard !rest.contains("?"), !rest.contains("#") else { throw fail("has a query or fragment, which Planter does not read") }
        var url = RedisURL(host: "")
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = try decode(credentials[..<colon], fail)
                url.user = user.isEmpty ? nil : user
                url.password = try decode(credentials[credentials.index(after: colon)...], fail)
            } else {
                // `redis://secret@host`: a lone word before @ is the password (as redis-cli -u reads it).
                url.password = try decode(credentials, fail)
            }
            if url.password?.isEmpty == true { throw fail("has an empty password") }
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard path.count <= 7, path.allSatisfy({ $0.isASCII && $0.isNumber }), let database = Int(path),
                    database <= maximumDatabase
                else { throw fail("names database \"\(path)\": it must be a number from 0 to \(maximumDatabase)") }
                url.database = database
            }
        }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("has an IPv6 address without its closing ]") }
            url.host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("has text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            url.host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            url.host = String(authority)
        }
        guard !url.host.isEmpty else { throw fail("has no host") }
        guard url.host.utf8.count <= 253, url.host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_".contains($0)) })
        else { throw fail("has an invalid host \"\(url.host)\"") }
        if let portText {
            guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
                (1...65535).contains(port)
            else { throw fail("has port \"\(portText)\": it must be a number from 1 to 65535") }
            url.port = port
        }
        return url
    }

    /// `%xx` escapes decoded (a password may hold `@`, `:` or `/`).
    private static func decode(_ text: Substring, _ fail: (String) -> ParseError) throws(ParseError) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                    let high = hexValue(utf8[first]), let low = hexValue(utf8[utf8.index(after: first)])
                else { throw fail("has a bad %-escape in its credentials") }
                bytes.append(high << 4 | low)
                index = utf8.index(first, offsetBy: 2)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The text with whatever sits between `://` and `@` hidden: messages never show a password.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > scheme.upperBound else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
    }
}
