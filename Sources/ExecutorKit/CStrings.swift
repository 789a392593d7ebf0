/// Strings packed into one buffer as NUL-terminated C strings, for argv and envp arrays
/// without an allocation per string. Plugins that spawn processes build these on every call.
public struct CStringPack {
    private var bytes: [UInt8] = []
    /// Where each string starts in `bytes`.
    private var starts: [Int] = []

    public init(byteCapacity: Int = 0, count: Int = 0) {
        bytes.reserveCapacity(byteCapacity)
        starts.reserveCapacity(count)
    }

    public var count: Int { starts.count }

    public mutating func append(_ string: String) {
        starts.append(bytes.count)
        bytes.append(contentsOf: string.utf8)
        bytes.append(0)
    }

    /// Appends `name=value`, an environment entry.
    public mutating func append(name: String, value: String) {
        starts.append(bytes.count)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        bytes.append(0)
    }

    /// Calls `body` with a function giving the i-th string's address; valid only during `body`.
    public func withStrings<R>(_ body: ((Int) -> UnsafePointer<CChar>) -> R) -> R {
        if bytes.isEmpty { return body { _ in preconditionFailure("no strings") } }
        return bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return body { base + starts[$0] }
        }
    }

    /// Calls `body` with a NULL-terminated array of the strings; valid only during `body`.
    public func withArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withStrings { string in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count + 1) { array in
                for index in 0..<count { array[index] = string(index) }
                array[count] = nil
                return body(UnsafePointer(array.baseAddress!))
            }
        }
    }
}

/// Calls `body` with a NULL-terminated array of C strings (an argv or envp).
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pack = CStringPack(count: strings.count)
    for string in strings { pack.append(string) }
    return pack.withArray(body)
}
