/// A namespace's name: a DNS label (RFC 1123), so it is safe as a folder name, a metrics
/// label value and a URL segment as it is.
public enum NamespaceName {
    public static let `default` = "default"
    public static let rule = "a namespace name is a DNS label: 1 to 63 characters, lowercase letters a-z, digits 0-9 and '-', "
        + "not starting or ending with '-'"

    /// Nil when `name` is a valid name, else the message of the 400 that refuses it.
    public static func problem(_ name: Substring) -> String? {
        let bytes = name.utf8
        let valid = (1...63).contains(bytes.count)
            && bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
            && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
        guard !valid else { return nil }
        let shown = name.count > 80 ? name.prefix(80) + "…" : name
        return "\"\(shown)\" is not a valid namespace name: \(rule)"
    }
}
