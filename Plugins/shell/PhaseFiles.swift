import ExecutorKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One private folder per executor instance (mode 0700, made at create, removed with the
/// instance) for the files that carry outputs between phases. An attempt gets `N.outputs.json`
/// (PLANTER_OUTPUTS: the process may write a JSON object there, which becomes its outputs) and,
/// when it has inputs, `N.inputs.json` (PLANTER_INPUTS: the outputs of the phases it waits for,
/// keyed by phase id). Phases without inputs share `none.inputs.json` (`{}`). No folder per
/// attempt: creating and removing one cost ~150 µs a phase, more than the rest of Planter.
final class PhaseFolder: Sendable {
    let directory: String
    private let noInputsPath: String
    private let counter = Atomic<UInt64>(0)

    private init(directory: String) {
        self.directory = directory
        noInputsPath = directory + "/none.inputs.json"
    }

    static func make(tempRoot: String) -> Result<PhaseFolder, PluginError> {
        var template = Array((tempRoot + "/planter-shell-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else {
            return .failure(PluginError("cannot create a folder for PLANTER_INPUTS/PLANTER_OUTPUTS in \(tempRoot): "
                + describe(errno)))
        }
        let folder = PhaseFolder(directory: String(cString: made))
        if let error = PhaseFiles.write(Array("{}\n".utf8), to: folder.noInputsPath) {
            return .failure(PluginError("cannot write \(folder.noInputsPath): \(error)"))
        }
        return .success(folder)
    }

    deinit { removeTree(directory) }

    /// The files of one attempt; the inputs are written now.
    func files(inputs: JSONObject) -> Result<PhaseFiles, PluginError> {
        let number = counter.add(1, ordering: .relaxed).newValue
        let outputsPath = "\(directory)/\(number).outputs.json"
        guard !inputs.isEmpty else {
            return .success(PhaseFiles(inputsPath: noInputsPath, outputsPath: outputsPath, ownsInputs: false))
        }
        let files = PhaseFiles(inputsPath: "\(directory)/\(number).inputs.json", outputsPath: outputsPath, ownsInputs: true)
        var writer = JSONWriter(capacity: 256)
        writer.write(.object(inputs))
        writer.bytes.append(0x0A)
        if let error = PhaseFiles.write(writer.bytes, to: files.inputsPath) {
            files.remove()
            return .failure(PluginError("cannot write \(files.inputsPath): \(error)"))
        }
        return .success(files)
    }
}

/// The two files of one attempt, removed after it.
struct PhaseFiles {
    static let inputsVariable = "PLANTER_INPUTS"
    static let outputsVariable = "PLANTER_OUTPUTS"

    let inputsPath: String
    let outputsPath: String
    /// The inputs file is this attempt's own (not the shared empty one).
    let ownsInputs: Bool

    static func write(_ bytes: [UInt8], to path: String) -> String? {
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

    /// Removes the attempt's files (the outputs file may never have been written).
    func remove() {
        unlink(outputsPath)
        if ownsInputs { unlink(inputsPath) }
    }
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
