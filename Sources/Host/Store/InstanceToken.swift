import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// This Planter's identity: a random token kept in the state folder (`instance`), the same
/// across restarts on that root. Every process started for a phase carries it
/// (PLANTER_OWNER), so after a crash the next start finds the processes of the run that was
/// in flight, and only those of this Planter (another root has another token).
public enum InstanceToken {
    /// Reads `<folder>/instance`, or makes a token and writes it durably (fsync) before
    /// anything can run under it.
    public static func loadOrCreate(folder: String) throws -> String {
        let path = (folder as NSString).appendingPathComponent("instance")
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if isValid(text) { return text }
        }
        let token = (0..<2).map { _ in
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        try StateFile.writeAtomically(Array((token + "\n").utf8), to: path)
        return token
    }

    /// Hex digits only, so it can sit in an environment entry and a log line as it is.
    static func isValid(_ text: String) -> Bool {
        (16...64).contains(text.utf8.count) && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
