#if canImport(Glibc)
import Glibc
#endif

/// The PLANTER_OUTPUTS file of an attempt: where the phase's process may write a JSON object,
/// which becomes the phase's outputs. Read the same way by every plugin that offers it, with
/// the same messages.
public enum OutputsFile {
    public static let variable = "PLANTER_OUTPUTS"

    /// The outputs written at `path`: nil when there is no file, `{}` for an empty one (or only
    /// whitespace); an error when it is larger than `limit` bytes, not a regular file, not JSON
    /// (with line and column) or not an object. `followLinks: false` refuses a symbolic link
    /// (for a file a container wrote: its link would point into the host).
    public static func read(_ path: String, limit: Int, followLinks: Bool = true) -> Result<JSONObject?, PluginError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            return errno == ENOENT ? .success(nil) : .failure(cannotRead(errno))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(cannotRead(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(PluginError("PLANTER_OUTPUTS is not a regular file")) }
        let size = Int(clamping: info.st_size)
        let cap = max(0, limit)
        if size > cap { return .failure(tooLarge(size, cap, exact: true)) }
        // Read at most limit + 1 bytes: the file may still be growing (a leftover background job).
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var count = 0
        while true {
            if count == bytes.count {
                if count > cap { break }
                bytes.append(contentsOf: repeatElement(0, count: min(cap + 1, max(4096, 2 * count)) - count))
            }
            let n = bytes.withUnsafeMutableBytes { raw in
                let rest = UnsafeMutableRawBufferPointer(rebasing: raw[count...])
                return Glibc.read(fd, rest.baseAddress, rest.count)
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(cannotRead(errno)) }
            if n == 0 { break }
            count += n
        }
        if count > cap { return .failure(tooLarge(count, cap, exact: false)) }
        bytes.removeSubrange(count...)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(JSONObject()) }
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            return .failure(PluginError("the outputs file (PLANTER_OUTPUTS) is not valid JSON: \(error)"))
        }
        guard let object = json.objectValue else {
            return .failure(PluginError("the outputs file (PLANTER_OUTPUTS) must hold a JSON object, got \(json.typeName)"))
        }
        return .success(object)
    }

    private static func cannotRead(_ code: Int32) -> PluginError {
        PluginError("cannot read PLANTER_OUTPUTS: \(SystemText.error(code))")
    }

    private static func tooLarge(_ size: Int, _ limit: Int, exact: Bool) -> PluginError {
        PluginError("outputs too large: the PLANTER_OUTPUTS file has \(exact ? "\(size)" : "more than \(limit)") bytes, "
            + "over the limit of \(limit) bytes (executor config maxOutputsBytes)")
    }
}
