import PlanterCore
import PlanterJSON
import ProcessSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Spawns `argv` in a new process group with stdin/stdout/stderr pipes and nothing else inherited.
/// `environment` overrides the host's; a PATH in it is also where `argv[0]` is looked up.
func spawnProcess(argv: [String], environment: [String: String]) -> Result<ps_child, SpawnErrno> {
    var strings: [String] = []
    let overridden = Set(environment.keys)
    if let base = ps_environ() {
        var index = 0
        while let entry = base[index] {
            index += 1
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
            if !overridden.contains(name) { strings.append(text) }
        }
    }
    for (name, value) in environment.sorted(by: { $0.key < $1.key }) { strings.append(name + "=" + value) }

    func cStrings(_ list: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: list.count + 1)
        for (index, text) in list.enumerated() { array[index] = UnsafePointer(strdup(text)) }
        array[list.count] = nil
        return array
    }
    func release(_ array: UnsafeMutablePointer<UnsafePointer<CChar>?>, _ count: Int) {
        for index in 0..<count { free(UnsafeMutablePointer(mutating: array[index])) }
        array.deallocate()
    }
    let argvC = cStrings(argv)
    let envC = cStrings(strings)
    defer {
        release(argvC, argv.count)
        release(envC, strings.count)
    }
    let searchPath = environment["PATH"]
    return withOptionalCString(searchPath) { searchC in
        var options = ps_spawn_options(
            argv: UnsafePointer(argvC), envp: UnsafePointer(envC), workdir: nil, search_path: searchC,
            flags: UInt32(PS_SPAWN_SEARCH_PATH | PS_SPAWN_STDIN_PIPE | PS_SPAWN_PIDFD | PS_SPAWN_NEW_SESSION))
        var child = ps_child()
        let error = ps_spawn(&options, &child)
        return error == 0 ? .success(child) : .failure(SpawnErrno(code: error))
    }
}

struct SpawnErrno: Error { let code: Int32 }

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// An argument as a shell would need it, for messages.
func displayQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.utf8.allSatisfy { byte in
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "-_./=:,+@%".utf8.contains(byte)
    }
    return plain ? argument : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
