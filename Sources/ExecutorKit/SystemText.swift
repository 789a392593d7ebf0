import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// Wording for system facts in plugin messages, the same in every plugin.
public enum SystemText {
    /// `strerror`: "No such file or directory".
    public static func error(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// "SIGKILL", or the number when the signal has no name.
    public static func signal(_ number: Int32) -> String {
        if let abbrev = ps_signal_abbrev(number) { return "SIG" + String(cString: abbrev) }
        return "\(number)"
    }

    /// "2 s" for whole seconds, else "300 ms".
    public static func milliseconds(_ ms: Int) -> String {
        if ms >= 1000 && ms % 1000 == 0 { return "\(ms / 1000) s" }
        return "\(ms) ms"
    }
}

/// execvp-style lookup: `name` itself when it holds a '/' (if executable), else the first
/// executable regular file of that name in the ':'-separated `path` (an empty entry is ".").
public func findProgram(_ name: String, in path: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
        var info = stat()
        if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
            return candidate
        }
    }
    return nil
}
