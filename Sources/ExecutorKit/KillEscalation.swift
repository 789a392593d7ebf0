import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// How `ChildWatcher` ends a child it has to stop (cancelled, out of time, or asked to by its
/// client): a series of steps, each taken when the one before says, until the child exits.
/// What a step does is the plugin's: signals to the process group for most, `runc kill` for a
/// container (whose processes are not in the runtime's group).
public protocol KillEscalation {
    /// Takes step `step` (0, 1, …) against the child whose process group is `group`;
    /// returns the nanoseconds until the next step, or nil when there is none.
    mutating func step(_ step: Int, group: pid_t) -> Int64?
    /// The watch is lost (poll failed): end the child now, without waiting.
    mutating func abort(group: pid_t)
}

extension KillEscalation {
    public mutating func abort(group: pid_t) { _ = ps_kill_group(group, SIGKILL) }
}

/// SIGTERM to the process group (and SIGCONT: a stopped process only sees TERM once
/// continued), then SIGKILL after `graceNs`.
public struct GroupSignals: KillEscalation, Sendable {
    public var graceNs: Int64

    public init(graceNs: Int64) { self.graceNs = graceNs }

    public init(graceMs: Int) { self.init(graceNs: nanoseconds(milliseconds: graceMs)) }

    public mutating func step(_ step: Int, group: pid_t) -> Int64? {
        if step == 0 {
            _ = ps_kill_group(group, SIGTERM)
            _ = ps_kill_group(group, SIGCONT)
            return graceNs
        }
        _ = ps_kill_group(group, SIGKILL)
        return nil
    }
}

/// An escalation under way: the plugin's steps, which one is next and when it is due.
struct Escalating<Kill: KillEscalation> {
    var kill: Kill
    private var next = 0
    private(set) var dueNs: Int64?
    private(set) var started = false

    init(_ kill: Kill) { self.kill = kill }

    mutating func start(group: pid_t) {
        guard !started else { return }
        started = true
        fire(group: group)
    }

    /// Takes the next step if it is due at `now`.
    mutating func fireIfDue(group: pid_t, now: Int64) {
        if let dueNs, now >= dueNs { fire(group: group) }
    }

    private mutating func fire(group: pid_t) {
        let delay = kill.step(next, group: group)
        next += 1
        // From after the step: a step may take time (runc kill runs a command).
        dueNs = delay.map { ps_monotonic_ns() &+ max(0, $0) }
    }
}
