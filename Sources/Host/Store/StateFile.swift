import Foundation
import PlanterCore
import PlanterDocument
import PlanterJSON

#if canImport(Glibc)
import Glibc
#endif

/// `$PLANTER_ROOT/state/state.json`: written atomically (temp file, fsync, rename, fsync of
/// the folder), so a crash at any moment leaves either the old or the new state, never half.
public struct StateFile: Sendable {
    public enum LoadOutcome: Sendable {
        case missing
        case loaded(PlanterState)
        /// The file did not parse; it was moved to `movedTo` and Planter starts empty.
        case corrupt(movedTo: String, reason: String)
    }

    public let path: String

    public init(root: String) {
        path = (root as NSString).appendingPathComponent("state/state.json")
    }

    public init(path: String) { self.path = path }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    public func load() -> LoadOutcome {
        guard let data = FileManager.default.contents(atPath: path) else { return .missing }
        let reason: String
        switch DocumentParser.parse([UInt8](data), format: .json) {
        case .failure(let failure):
            reason = failure.description
        case .success(let json):
            switch PlanterState.decode(json) {
            case .success(let state): return .loaded(state)
            case .failure(let failure): reason = failure.description
            }
        }
        let aside = path + ".corrupt-" + Timestamp.now().iso8601.filter { $0.isNumber }
        do {
            try FileManager.default.moveItem(atPath: path, toPath: aside)
        } catch {
            return .corrupt(movedTo: "(could not move it: \(error))", reason: reason)
        }
        return .corrupt(movedTo: aside, reason: reason)
    }

    public func save(_ state: PlanterState) throws {
        var writer = JSONWriter(capacity: 1 << 16, pretty: true)
        writer.write(state.json)
        writer.bytes.append(0x0A)
        try Self.writeAtomically(writer.bytes, to: path)
    }

    /// Whether the folder can take the state file (for readiness checks).
    public func checkWritable() -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            return "cannot create \(directory): \(error.localizedDescription)"
        }
        return access(directory, W_OK) == 0 ? nil : "\(directory) is not writable"
    }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        let ok: Bool = bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return fsync(fd) == 0
        }
        let failure = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(temporary)
            throw WriteError(description: "cannot write \(temporary): \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
