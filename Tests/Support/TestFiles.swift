internal import ExecutorKit
#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under /tmp, removed with everything in it when the value goes.
public final class TempDir: Sendable {
    public let path: String

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        var template = Array("/tmp/planter-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        path = String(cString: made)
    }

    deinit { removeTree(path) }

    public func write(_ name: String, _ text: String) throws {
        guard let file = fopen(path + "/" + name, "w") else { throw Failure(description: "cannot write \(name)") }
        fputs(text, file)
        fclose(file)
    }

    public func exists(_ name: String) -> Bool { access(path + "/" + name, F_OK) == 0 }

    /// The file's first line without its line break, or nil.
    public func readLine(_ name: String) -> String? {
        guard let file = fopen(path + "/" + name, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, 4096, file) != nil else { return nil }
        return String(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.filter { $0 != "\n" })
    }

    /// The number a script wrote to the file (`echo $! > name`), or nil.
    public func readPid(_ name: String) -> Int32? { readLine(name).flatMap { Int32($0.filter(\.isNumber)) } }
}

/// `rm -rf` that never follows a link.
public func removeTree(_ path: String) { FileTree.remove(path) }

/// Gone = no /proc entry, or a zombie (PID 1 in a container may never reap orphans). Waits up
/// to 10 s: signals are delivered asynchronously, and late on a loaded machine.
public func isGone(_ pid: Int32) -> Bool {
    for _ in 0..<1000 {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
        var buffer = [CChar](repeating: 0, count: 512)
        let line = fgets(&buffer, 512, file) != nil ? buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : ""
        fclose(file)
        // "pid (comm) S ...": the state follows the last ')'.
        if let paren = line.lastIndex(of: ")") {
            let state = line[line.index(after: paren)...].drop(while: { $0 == " " }).first
            if state == "Z" || state == "X" { return true }
        }
        usleep(10_000)
    }
    return false
}
