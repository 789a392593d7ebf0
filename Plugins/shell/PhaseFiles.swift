import ExecutorKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One private folder per executor instance (mode 0700, made at create, removed with the
/// instance) for the files that carry outputs between phases. An attempt gets a fresh
/// `N.outputs.json` path (PLANTER_OUTPUTS: the process may write a JSON object there, which
/// becomes its outputs) and, when it has inputs, an inputs file (PLANTER_INPUTS: the outputs of
/// the phases it waits for, keyed by phase id). Phases without inputs share
/// `none.inputs.json` (`{}`).
///
/// Inputs files are slots, reused: an attempt borrows one (`slot-K.inputs.json`), rewrites it
/// through a descriptor kept open (pwrite + ftruncate: no path lookup, no inode or page made
/// or freed) and gives it back when it ends, after its process group is gone. A slot whose file
/// the phase removed, renamed over or linked elsewhere (its link count is no longer 1) is
/// retired instead. Making and unlinking a file per attempt, or truncating one by path, cost
/// more than the rest of Planter's work on a phase; a folder per attempt ~150 µs. There are
/// never more slots than attempts ever ran at once.
final class PhaseFolder: Sendable {
    let directory: String
    private let noInputsPath: String
    /// Held (flock) for the instance's life: the folder is in use, whatever pid namespace
    /// the process that looks at it lives in.
    private let lockFD: Int32
    private let counter = Atomic<UInt64>(0)
    /// Idle inputs slots. Guarded; a slot is in here or owned by exactly one attempt.
    private let idleSlots = Mutex<[InputsSlot]>([])
    private let slotCount = Atomic<Int>(0)

    private init(directory: String, lockFD: Int32) {
        self.directory = directory
        self.lockFD = lockFD
        noInputsPath = directory + "/none.inputs.json"
    }

    /// Folder names carry the pid of the process that made them and hold a locked `.lock`
    /// file, so one that a killed host left behind can be recognised and removed by the next.
    /// A folder is set up under a staging name (which the clean-up leaves alone while it is
    /// young) and renamed once it holds its lock: no live folder is ever visible unlocked.
    static let namePrefix = "planter-shell-"
    static let stagingPrefix = ".planter-shell-new-"
    static let lockName = ".lock"

    static func make(tempRoot: String) -> Result<PhaseFolder, PluginError> {
        removeAbandoned(in: tempRoot)
        let owner = String(getpid()) + "-"
        var template = Array((tempRoot + "/" + stagingPrefix + owner + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else {
            return .failure(PluginError("cannot create a folder for PLANTER_INPUTS/PLANTER_OUTPUTS in \(tempRoot): "
                + SystemText.error(errno)))
        }
        let staging = String(cString: made)
        let directory = tempRoot + "/" + namePrefix + owner + String(staging.suffix(6))
        func fail(_ message: String, lock: Int32 = -1) -> Result<PhaseFolder, PluginError> {
            if lock >= 0 { close(lock) }
            FileTree.remove(staging)
            return .failure(PluginError(message))
        }
        let lockFD = open(staging + "/" + lockName, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard lockFD >= 0, flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            return fail("cannot lock \(staging)/\(lockName): \(SystemText.error(errno))", lock: lockFD)
        }
        if let error = PhaseFiles.write(Array("{}\n".utf8), to: staging + "/none.inputs.json") {
            return fail("cannot write \(staging)/none.inputs.json: \(error)", lock: lockFD)
        }
        guard rename(staging, directory) == 0 else {
            return fail("cannot rename \(staging) to \(directory): \(SystemText.error(errno))", lock: lockFD)
        }
        return .success(PhaseFolder(directory: directory, lockFD: lockFD))
    }

    deinit {
        for slot in idleSlots.withLock({ $0 }) { close(slot.fd) }
        FileTree.remove(directory)
        close(lockFD)
    }

    /// Removes folders a dead host left: ours (same user), named after a pid that no longer
    /// runs here, and either without a lock nobody holds (a live host in another pid namespace
    /// sharing the folder holds it) or, while being set up, older than a minute.
    private static func removeAbandoned(in tempRoot: String) {
        guard let dir = opendir(tempRoot) else { return }
        var candidates: [(path: String, staging: Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            let staging = name.hasPrefix(stagingPrefix)
            guard staging || name.hasPrefix(namePrefix) else { continue }
            let rest = name.dropFirst(staging ? stagingPrefix.count : namePrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0, pid != getpid(),
                kill(pid, 0) != 0 && errno == ESRCH
            else { continue }
            candidates.append((tempRoot + "/" + name, staging))
        }
        closedir(dir)
        for candidate in candidates {
            var info = stat()
            // Only our own real folders: never follow a link, never touch another user's.
            guard lstat(candidate.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid()
            else { continue }
            if candidate.staging {
                if time(nil) - info.st_mtim.tv_sec > 60 { FileTree.remove(candidate.path) }
                continue
            }
            let lock = open(candidate.path + "/" + lockName, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            if lock < 0 {
                FileTree.remove(candidate.path)  // never locked: made before folders had locks
            } else {
                if flock(lock, LOCK_EX | LOCK_NB) == 0 { FileTree.remove(candidate.path) }
                close(lock)
            }
        }
    }

    /// The files of one attempt; the inputs are written now. Give them back with `release`.
    func files(inputs: JSONObject) -> Result<PhaseFiles, PluginError> {
        let number = counter.add(1, ordering: .relaxed).newValue
        let outputsPath = directory + "/" + String(number) + ".outputs.json"
        guard !inputs.isEmpty else {
            return .success(PhaseFiles(inputsPath: noInputsPath, outputsPath: outputsPath, slot: nil))
        }
        var writer = JSONWriter(capacity: 256)
        writer.write(.object(inputs))
        writer.bytes.append(0x0A)
        var slot: InputsSlot
        if let idle = idleSlots.withLock({ $0.popLast() }) {
            slot = idle
        } else {
            let path = directory + "/slot-" + String(slotCount.add(1, ordering: .relaxed).newValue) + ".inputs.json"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return .failure(PluginError("cannot create \(path): \(SystemText.error(errno))")) }
            slot = InputsSlot(path: path, fd: fd, size: 0)
        }
        if let error = slot.replaceContents(with: writer.bytes) {
            retire(slot)
            return .failure(PluginError("cannot write \(slot.path): \(error)"))
        }
        return .success(PhaseFiles(inputsPath: slot.path, outputsPath: outputsPath, slot: slot))
    }

    /// Ends an attempt's use of its files: the outputs file goes, the inputs slot is idle again.
    func release(_ files: PhaseFiles, outputsExisted: Bool) {
        // A missing outputs file needs no unlink (the common case: one path lookup saved).
        if outputsExisted { unlink(files.outputsPath) }
        guard let slot = files.slot else { return }
        // Still our file at its name, as we left it? Removed or renamed over: 0 links; linked
        // elsewhere: 2; a chmod would keep the next child from reading it; a write, from
        // knowing its size.
        var info = stat()
        if fstat(slot.fd, &info) == 0 && info.st_nlink == 1 && info.st_mode == S_IFREG | 0o600
            && Int(info.st_size) == slot.size {
            idleSlots.withLock { $0.append(slot) }
        } else {
            retire(slot)
        }
    }

    /// Drops a slot: whatever its name holds now goes (a later slot gets a new name).
    private func retire(_ slot: InputsSlot) {
        close(slot.fd)
        FileTree.remove(slot.path)
    }
}

/// A reusable inputs file and the descriptor it is rewritten through.
struct InputsSlot: Sendable {
    let path: String
    let fd: Int32
    /// The file's length as last written.
    var size: Int

    /// Writes `bytes` from offset 0 and cuts the file there (always: a process that escaped
    /// its group may have made it longer since). Returns an error text or nil.
    mutating func replaceContents(with bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + offset, bytes.count - offset, off_t(offset)) }
            if written < 0 {
                if errno == EINTR { continue }
                return SystemText.error(errno)
            }
            offset += written
        }
        if ftruncate(fd, off_t(bytes.count)) != 0 { return SystemText.error(errno) }
        size = bytes.count
        return nil
    }
}

/// The two files of one attempt; `PhaseFolder.release` ends their use.
struct PhaseFiles {
    static let inputsVariable = "PLANTER_INPUTS"
    static let outputsVariable = OutputsFile.variable
    static let variables = [inputsVariable, outputsVariable]

    let inputsPath: String
    let outputsPath: String
    /// The borrowed inputs slot; nil for the shared empty inputs file.
    let slot: InputsSlot?

    /// Writes a new file. Returns an error text or nil.
    static func write(_ bytes: [UInt8], to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return SystemText.error(errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return SystemText.error(errno)
            }
            offset += written
        }
        return nil
    }
}

