import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// A child environment as C strings: a snapshot of the host's environment plus
/// config.env, made once per executor instance, so a call without secrets or payload.env
/// hands it to the spawn without building anything.
final class EnvironmentBlock: @unchecked Sendable {
    // @unchecked: written only in init, then read-only until deinit.
    private let entries: UnsafeMutablePointer<UnsafePointer<CChar>?>  // NULL-terminated
    private let count: Int

    /// The `base` environment without the variables named in `overrides` or `dropping`, then
    /// `overrides` (later ones win) except those named in `dropping`.
    init(base: UnsafePointer<UnsafeMutablePointer<CChar>?>?, overrides: [(String, String)], dropping: [String] = []) {
        let overrides = overrides.filter { !dropping.contains($0.0) }
        var strings: [UnsafePointer<CChar>] = []
        if let base {
            var index = 0
            while let entry = base[index] {
                index += 1
                if overrides.contains(where: { Self.entry(entry, hasName: $0.0) }) { continue }
                if dropping.contains(where: { Self.entry(entry, hasName: $0) }) { continue }
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

    /// Calls `body` with a NULL-terminated envp: this block with `overrides` applied (later
    /// overrides win), then `extra` ("NAME=value" each, names found in neither). Valid only
    /// during `body`.
    func withEnvironment<R>(
        _ overrides: [(String, String)], extra: [String] = [],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        if overrides.isEmpty && extra.isEmpty { return body(entries) }
        var strings = CStringPack(count: overrides.count + extra.count)
        for (name, value) in overrides { strings.append(name: name, value: value) }
        for entry in extra { strings.append(entry) }
        return strings.withStrings { string in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count + strings.count + 1) { envp in
                var used = 0
                if overrides.isEmpty {
                    // Nothing to replace: the block as it is (the common case: no secrets, no payload env).
                    for index in 0..<count { envp[index] = entries[index] }
                    used = count
                } else {
                    // strncmp over "NAME=" matches exactly that name, and stops at a shorter entry's NUL.
                    func sameName(_ entry: UnsafePointer<CChar>, _ override: Int) -> Bool {
                        strncmp(entry, string(override), overrides[override].0.utf8.count + 1) == 0
                    }
                    for index in 0..<count where !overrides.indices.contains(where: { sameName(entries[index]!, $0) }) {
                        envp[used] = entries[index]
                        used += 1
                    }
                    for index in overrides.indices where !overrides[(index + 1)...].contains(where: { $0.0 == overrides[index].0 }) {
                        envp[used] = string(index)
                        used += 1
                    }
                }
                for index in overrides.count..<strings.count {
                    envp[used] = string(index)
                    used += 1
                }
                envp[used] = nil
                return body(UnsafePointer(envp.baseAddress!))
            }
        }
    }
}
