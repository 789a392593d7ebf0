import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// Small file-system helpers (no Foundation in plugins).
enum Files {
    /// A fresh private directory `<parent>/<prefix>XXXXXX`.
    static func makeTempDir(in parent: String, prefix: String) -> Result<String, PluginError> {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            return .failure(PluginError("cannot create a directory in \(parent): \(SystemText.error(errno))"))
        }
        return .success(String(cString: made))
    }

    static func makeDir(_ path: String, mode: mode_t = 0o755) -> String? {
        if mkdir(path, mode) == 0 || errno == EEXIST { return nil }
        return "cannot create \(path): \(SystemText.error(errno))"
    }

    /// Writes `bytes` to a new file; nil or the error.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return "cannot write \(path): \(SystemText.error(errno))" }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return "cannot write \(path): \(SystemText.error(errno))"
            }
            offset += n
        }
        return nil
    }

    enum ReadError: Error {
        case missing
        case tooLarge(Int)
        case failed(String)
    }

    /// Reads a regular file of at most `limit` bytes.
    static func read(_ path: String, limit: Int) -> Result<[UInt8], ReadError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            return .failure(errno == ENOENT ? .missing : .failed("cannot read \(path): \(SystemText.error(errno))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            return .failure(.failed("\(path) is not a regular file"))
        }
        if Int(info.st_size) > limit { return .failure(.tooLarge(Int(info.st_size))) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.failed("cannot read \(path): \(SystemText.error(errno))"))
            }
            if n == 0 { break }
            count += n
        }
        if count > limit { return .failure(.tooLarge(count)) }
        return .success(Array(bytes[..<count]))
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// An absolute form of `path` (relative to the working directory), without resolving links.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }
}
