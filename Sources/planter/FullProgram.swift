import Glibc

/// `planter-full`, found next to this program's own file (`/proc/self/exe`, so a symlink to
/// planter still finds it).
enum FullProgram {
    static let name = "planter-full"

    static func path() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        guard let slash = own.lastIndex(of: "/") else { return name }
        return String(own[...slash]) + name
    }

    /// Replaces this process with planter-full, same arguments and environment; returns only
    /// when that failed, with the reason.
    static func exec() -> String {
        let path = path()
        execv(path, CommandLine.unsafeArgv)
        return "cannot start \(path): \(String(cString: strerror(errno)))"
    }
}
