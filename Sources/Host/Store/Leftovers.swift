import PlanterCore
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// A process a crashed Planter left running, killed at the next start.
public struct LeftoverProcess: Sendable, Equatable {
    public var pid: Int32
    public var processGroup: Int32
    /// /proc/PID/stat field 22: clock ticks since boot.
    public var startTime: UInt64
    public var phaseId: String
    public var attempt: String
    /// The process led its group, and the whole group was killed with it.
    public var groupKilled: Bool
    /// Still alive after the wait (stuck in the kernel, say).
    public var survived: Bool

    public var description: String {
        var text = "pid \(pid) (process group \(processGroup), start time \(startTime)) of phase \(phaseId) attempt \(attempt)"
        if groupKilled { text += ", with its process group" }
        if survived { text += "; it has not exited yet" }
        return text
    }
}

/// Finds the processes tagged with this Planter's token and a run id (PhaseTag's variables,
/// read from /proc) and kills them with SIGKILL, through pidfds, so a pid reused since the
/// crash is never hit (see Sources/ProcessSupport/leftovers.c).
public enum Leftovers {
    public struct ScanError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Kills every live process carrying `owner` and `runId`, except those `spare` says to
    /// leave (the phase and attempt of its tag), and waits until they have exited. Scans
    /// again after each round of kills, since a process may fork while it is being killed;
    /// stops when a scan finds nothing left to kill.
    public static func kill(owner: String, runId: String, wait: PlanDuration = PlanDuration(milliseconds: 10_000),
                            spare: (_ phaseId: String, _ attempt: String) -> Bool = { _, _ in false })
        -> Result<[LeftoverProcess], ScanError>
    {
        var killed: [LeftoverProcess] = []
        let capacity = 1024
        let found = UnsafeMutablePointer<ps_tagged_process>.allocate(capacity: capacity)
        defer { found.deallocate() }
        let deadline = MonotonicTime.deadline(after: wait, from: ps_monotonic_ns())
        for _ in 0..<32 {
            let count = Int(ps_find_tagged(owner, runId, found, Int32(capacity)))
            if count < 0 {
                return .failure(ScanError(description: "cannot look for leftover processes in /proc: \(String(cString: strerror(errno)))"))
            }
            var round: [(LeftoverProcess, Int32)] = []
            var killedGroups = Set<Int32>()
            // Group leaders first: killing a group also kills its members, which are then
            // named as killed with it rather than missed because they were already dying.
            let order = (0..<min(count, capacity)).sorted { found[$0].leads_group > found[$1].leads_group }
            for index in order {
                var process = found[index]
                let phaseId = text(&process.phase)
                let attempt = text(&process.attempt)
                if spare(phaseId, attempt) {
                    close(process.pidfd)
                    continue
                }
                var group: Int32 = 0
                let outcome = ps_kill_tagged(&process, owner, runId, SIGKILL, &group)
                if outcome == 0 || killedGroups.contains(process.pgid) {
                    if group != 0 { killedGroups.insert(process.pid) }
                    round.append((LeftoverProcess(pid: process.pid, processGroup: process.pgid, startTime: UInt64(process.start_time),
                                                  phaseId: phaseId, attempt: attempt, groupKilled: group != 0, survived: false),
                                  process.pidfd))
                } else {
                    close(process.pidfd)
                }
            }
            if round.isEmpty { break }
            // Gone before the next scan, so a scan never finds one it already killed (a
            // zombie shows no environment, so it does not count).
            for (var process, pidfd) in round {
                let left = MonotonicTime.pollTimeout(until: deadline, now: ps_monotonic_ns())
                process.survived = ps_wait_pidfd(pidfd, left) != 1
                close(pidfd)
                killed.append(process)
            }
            if killed.contains(where: \.survived) { break }
        }
        return .success(killed)
    }

    private static func text<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
