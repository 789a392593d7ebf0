import PlanterCore

/// Phase slots shared by the runs of several namespaces (lanes): at most `slots` phases at
/// once across all of them. A free slot goes to the next lane in turn among those waiting, so
/// a namespace with three ready phases gets one of the next slots even while another has
/// thousands ready. Blocking, for the runner's worker threads.
public final class CapacityPool: @unchecked Sendable {
    // Everything below is guarded by `monitor`.
    private let monitor = Monitor()
    private let changed: Condition
    public let slots: Int
    private var used = 0
    /// Lanes with waiters, in turn order (a lane is appended again after each slot it gets).
    private var turn: [String] = []
    private var waiting: [String: Int] = [:]
    /// Slots handed to a lane and not yet taken by one of its waiters.
    private var granted: [String: Int] = [:]

    public init(slots: Int) {
        self.slots = max(1, slots)
        changed = Condition(monitor)
    }

    /// Waits for a slot for `lane`; give it back with `release()`.
    public func acquire(_ lane: String) {
        monitor.lock()
        defer { monitor.unlock() }
        if used < slots && turn.isEmpty {
            used += 1
            return
        }
        waiting[lane, default: 0] += 1
        if !turn.contains(lane) { turn.append(lane) }
        handOut()
        while granted[lane, default: 0] == 0 { changed.wait() }
        granted[lane, default: 0] -= 1
    }

    public func release() {
        monitor.lock()
        used -= 1
        handOut()
        monitor.unlock()
    }

    /// Gives the free slots to the waiting lanes, one per lane in turn.
    private func handOut() {
        var gave = false
        while used < slots, !turn.isEmpty {
            let lane = turn.removeFirst()
            used += 1
            granted[lane, default: 0] += 1
            gave = true
            let left = waiting[lane, default: 1] - 1
            if left > 0 {
                waiting[lane] = left
                turn.append(lane)
            } else {
                waiting[lane] = nil
            }
        }
        if gave { changed.broadcast() }
    }
}
