import PlanterJSON

/// Environment variables as plugins take them from configs and payloads (`env` objects) and
/// hand them to the processes they start.
public enum EnvironmentVariables {
    /// A name a process environment can carry: not empty, no '=', no NUL.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains(UInt8(ascii: "=")) && !name.utf8.contains(0)
    }

    /// Reads an `env` object of strings, in document order; errors name `field`.
    public static func parse(_ value: JSON, field: String) throws(PluginError) -> [(String, String)] {
        guard let object = value.objectValue else {
            throw PluginError("\(field) must be an object of strings, got \(value.typeName)")
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(object.count)
        for member in object.members {
            guard isValidName(member.key) else {
                throw PluginError("\(field) has an invalid variable name \"\(member.key)\"")
            }
            guard let text = member.value.stringValue, !text.utf8.contains(0) else {
                throw PluginError("\(field).\(member.key) must be a string, got \(member.value.typeName)")
            }
            pairs.append((member.key, text))
        }
        return pairs
    }
}
