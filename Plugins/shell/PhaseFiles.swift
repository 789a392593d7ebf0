import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// The files of one attempt that carry outputs between phases: a private folder with
/// `inputs.json` (the request's `inputs`: the outputs of the phases this one waits for, keyed by
/// phase id), handed to the process as PLANTER_INPUTS, and the path PLANTER_OUTPUTS where the
/// process may write a JSON object that becomes its outputs. Removed after the attempt.
struct PhaseFiles {
    static let inputsVariable = "PLANTER_INPUTS"
    static let outputsVariable = "PLANTER_OUTPUTS"

    let directory: String
    var inputsPath: String { directory + "/inputs.json" }
    var outputsPath: String { directory + "/outputs.json" }

    /// Makes the folder (mode 0700) under `tempRoot` and writes the inputs.
    static func create(inputs: JSONObject, tempRoot: String) -> Result<PhaseFiles, PluginError> {
        var template = Array((tempRoot + "/planter-phase-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else {
            return .failure(PluginError("cannot create a folder for PLANTER_INPUTS/PLANTER_OUTPUTS in \(tempRoot): "
                + describe(errno)))
        }
        let files = PhaseFiles(directory: String(cString: made))
        var writer = JSONWriter(capacity: 256)
        writer.write(.object(inputs))
        writer.bytes.append(0x0A)
        if let error = files.write(writer.bytes, to: files.inputsPath) {
            files.remove()
            return .failure(PluginError("cannot write \(files.inputsPath): \(error)"))
        }
        return .success(files)
    }

    private func write(_ bytes: [UInt8], to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return describe(errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return describe(errno)
            }
            offset += written
        }
        return nil
    }

    /// The outputs the process wrote: `{}` when it wrote nothing (no file, or only whitespace);
    /// an error when the file is larger than `limit` bytes, is not JSON (with line and column) or
    /// is not an object.
    func readOutputs(limit: Int) -> Result<JSONObject, OutputsError> {
        let fd = open(outputsPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .success(JSONObject()) : .failure(OutputsError("cannot read PLANTER_OUTPUTS: \(describe(errno))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(OutputsError("cannot read PLANTER_OUTPUTS: \(describe(errno))")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(OutputsError("PLANTER_OUTPUTS is not a regular file")) }
        if Int(info.st_size) > limit { return .failure(OutputsError(tooLarge(Int(info.st_size), limit, exact: true))) }
        // Read at most limit + 1 bytes: the file may still be growing (a leftover background job).
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(OutputsError("cannot read PLANTER_OUTPUTS: \(describe(errno))")) }
            if n == 0 { break }
            count += n
        }
        if count > limit { return .failure(OutputsError(tooLarge(count, limit, exact: false))) }
        bytes.removeSubrange(count...)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(JSONObject()) }
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            return .failure(OutputsError("the outputs file (PLANTER_OUTPUTS) is not valid JSON: \(error)"))
        }
        guard let object = json.objectValue else {
            return .failure(OutputsError("the outputs file (PLANTER_OUTPUTS) must hold a JSON object, got \(json.typeName)"))
        }
        return .success(object)
    }

    private func tooLarge(_ size: Int, _ limit: Int, exact: Bool) -> String {
        "outputs too large: the PLANTER_OUTPUTS file has \(exact ? "\(size)" : "more than \(limit)") bytes, "
            + "over the limit of \(limit) bytes (executor config maxOutputsBytes)"
    }

    /// Removes the folder and anything the process left in it.
    func remove() { removeTree(directory) }
}

struct OutputsError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// `rm -rf` for a folder this plugin created: descends into folders, never follows symlinks.
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
