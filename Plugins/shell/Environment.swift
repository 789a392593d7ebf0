import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// A child environment as C strings: a snapshot of the host's environment plus
/// config.env, made once per executor instance, so a call without secrets or payload.env
/// hands it to posix_spawn without building anything.
final class EnvironmentBlock: @unchecked Sendable {
    // @unchecked: written only in init, then read-only until deinit.
    private let entries: UnsafeMutablePointer<UnsafePointer<CChar>?>  // NULL-terminated
    private let count: Int

    init(base: UnsafePointer<UnsafeMutablePointer<CChar>?>?, overrides: [(String, String)]) {
        var strings: [UnsafePointer<CChar>] = []
        if let base {
            var index = 0
            while let entry = base[index] {
                index += 1
                if overrides.contains(where: { Self.entry(entry, hasName: $0.0) }) { continue }
                if let copy = strdup(entry) { strings.append(UnsafePointer(copy)) }
            }
        }
        for (offset, (name, value)) in overrides.enumerated()
        where !overrides[(offset + 1)...].contains(where: { $0.0 == name }) {
            if let copy = strdup(name + "=" + value) { strings.append(UnsafePointer(copy)) }
        }
        count = strings.count
        entries = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { entries[index] = string }
        entries[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(UnsafeMutablePointer(mutating: entries[index])) }
        entries.deallocate()
    }

    private static func entry(_ entry: UnsafePointer<CChar>, hasName name: String) -> Bool {
        var name = name
        return name.withUTF8 { utf8 in
            for index in 0..<utf8.count where UInt8(bitPattern: entry[index]) != utf8[index] { return false }
            return entry[utf8.count] == CChar(UInt8(ascii: "="))
        }
    }

    /// Calls `body` with a NULL-terminated envp: this block with `overrides` applied
    /// (later overrides win). Valid only during `body`.
    func withEnvironment<R>(
        _ overrides: [(String, String)], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        if overrides.isEmpty { return body(entries) }
        // All override strings in one buffer, "NAME=value\0" each.
        var bytes: [UInt8] = []
        var starts: [(offset: Int, nameLength: Int)] = []
        starts.reserveCapacity(overrides.count)
        for (name, value) in overrides {
            starts.append((bytes.count, name.utf8.count))
            bytes.append(contentsOf: name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: value.utf8)
            bytes.append(0)
        }
        return bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count + overrides.count + 1) {
                envp in
                var used = 0
                // strncmp over "NAME=" matches exactly that name, and stops at a shorter entry's NUL.
                for index in 0..<count {
                    let entry = entries[index]!
                    if starts.contains(where: { strncmp(entry, base + $0.offset, $0.nameLength + 1) == 0 }) { continue }
                    envp[used] = entry
                    used += 1
                }
                for (index, start) in starts.enumerated() {
                    let later = starts[(index + 1)...]
                    if later.contains(where: {
                        $0.nameLength == start.nameLength
                            && strncmp(base + $0.offset, base + start.offset, start.nameLength + 1) == 0
                    }) { continue }
                    envp[used] = base + start.offset
                    used += 1
                }
                envp[used] = nil
                return body(UnsafePointer(envp.baseAddress!))
            }
        }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains(UInt8(ascii: "=")) && !name.utf8.contains(0)
    }

    /// Reads an `env` object of strings; errors name `field`.
    static func parse(_ value: JSON, field: String) -> Result<[(String, String)], PluginError> {
        guard let object = value.objectValue else {
            return .failure(PluginError("\(field) must be an object of strings, got \(value.typeName)"))
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(object.count)
        for member in object.members {
            guard isValidName(member.key) else {
                return .failure(PluginError("\(field) has an invalid variable name \"\(member.key)\""))
            }
            guard let text = member.value.stringValue, !text.utf8.contains(0) else {
                return .failure(PluginError("\(field).\(member.key) must be a string, got \(member.value.typeName)"))
            }
            pairs.append((member.key, text))
        }
        return .success(pairs)
    }
}
