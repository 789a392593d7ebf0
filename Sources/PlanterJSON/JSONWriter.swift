/// Writes JSON text into a byte buffer. Direct appends, no intermediate dictionaries:
/// this is what makes per-phase request/result JSON cheap.
public struct JSONWriter {
    public var bytes: [UInt8]
    public let pretty: Bool
    private var indent = 0

    public init(capacity: Int = 256, pretty: Bool = false) {
        bytes = []
        bytes.reserveCapacity(capacity)
        self.pretty = pretty
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func write(_ value: JSON) {
        switch value {
        case .null: writeRaw("null")
        case .bool(let b): writeRaw(b ? "true" : "false")
        case .int(let i): write(integer: i)
        case .double(let d): write(double: d)
        case .string(let s): write(string: s)
        case .array(let elements):
            if elements.isEmpty { writeRaw("[]"); return }
            bytes.append(UInt8(ascii: "["))
            indent += 1
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                newline()
                write(element)
            }
            indent -= 1
            newline()
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { writeRaw("{}"); return }
            bytes.append(UInt8(ascii: "{"))
            indent += 1
            for (index, member) in object.members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                newline()
                write(string: member.key)
                bytes.append(UInt8(ascii: ":"))
                if pretty { bytes.append(UInt8(ascii: " ")) }
                write(member.value)
            }
            indent -= 1
            newline()
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func newline() {
        guard pretty else { return }
        bytes.append(0x0A)
        for _ in 0..<indent { bytes.append(0x20); bytes.append(0x20) }
    }

    /// Appends text that is already valid JSON (literals, pre-rendered fragments).
    public mutating func writeRaw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func writeRaw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func write(integer: Int64) {
        if integer >= 0 && integer < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(integer))
        } else {
            bytes.append(contentsOf: String(integer).utf8)
        }
    }

    public mutating func write(double: Double) {
        guard double.isFinite else { writeRaw("null"); return }  // JSON has no NaN/Infinity
        if double == double.rounded(), abs(double) < 1e15 {
            bytes.append(contentsOf: String(Int64(double)).utf8)
        } else {
            bytes.append(contentsOf: "\(double)".utf8)
        }
    }

    public mutating func write(string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): writeRaw("\\\"")
                case UInt8(ascii: "\\"): writeRaw("\\\\")
                case 0x0A: writeRaw("\\n")
                case 0x0D: writeRaw("\\r")
                case 0x09: writeRaw("\\t")
                case 0x08: writeRaw("\\b")
                case 0x0C: writeRaw("\\f")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: Streaming object helpers, for writers that build a document field by field.

    public mutating func beginObject() { bytes.append(UInt8(ascii: "{")) }
    public mutating func endObject() {
        if bytes.last == UInt8(ascii: ",") { bytes.removeLast() }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes `"key":` and leaves the value to the caller; follow with `comma()`.
    public mutating func key(_ key: String) {
        write(string: key)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func comma() { bytes.append(UInt8(ascii: ",")) }

    public mutating func field(_ name: String, _ value: String) { key(name); write(string: value); comma() }
    public mutating func field(_ name: String, _ value: Int) { key(name); write(integer: Int64(value)); comma() }
    public mutating func field(_ name: String, _ value: Bool) { key(name); writeRaw(value ? "true" : "false"); comma() }
    public mutating func field(_ name: String, _ value: JSON) { key(name); write(value); comma() }
}

extension JSON {
    /// Compact JSON text.
    public var serialized: String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.string
    }

    /// Indented JSON text, for people.
    public var prettySerialized: String {
        var writer = JSONWriter(pretty: true)
        writer.write(self)
        return writer.string
    }
}

/// RFC 6901 JSON pointers, built segment by segment as validation walks a document.
public enum JSONPointer {
    public static func escape(_ segment: String) -> String {
        // A byte scan: most segments need nothing, and iterating Characters is slow.
        func special(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "~") || byte == UInt8(ascii: "/") }
        let needsEscape = segment.utf8.withContiguousStorageIfAvailable { $0.contains(where: special) }
            ?? segment.utf8.contains(where: special)
        guard needsEscape else { return segment }
        // By byte, not by Character: a "~" or "/" followed by a combining mark is still one.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.utf8.count + 4)
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "~"): bytes.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "0")])
            case UInt8(ascii: "/"): bytes.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "1")])
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Built in one pass into one buffer (no allocation up to 15 bytes, Swift's small strings):
    /// `a + "/" + b` made an intermediate string, and a pointer is built for every field a decoder reads.
    public static func append(_ pointer: String, _ segment: String) -> String {
        var head = pointer
        var tail = escape(segment)
        let count = head.utf8.count + 1 + tail.utf8.count
        return head.withUTF8 { headBytes in
            tail.withUTF8 { tailBytes in
                String(unsafeUninitializedCapacity: count) { buffer in
                    var at = 0
                    for byte in headBytes { buffer[at] = byte; at += 1 }
                    buffer[at] = UInt8(ascii: "/")
                    at += 1
                    for byte in tailBytes { buffer[at] = byte; at += 1 }
                    return at
                }
            }
        }
    }

    public static func append(_ pointer: String, _ index: Int) -> String { pointer + "/" + String(index) }
}
