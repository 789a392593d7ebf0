#if canImport(Glibc)
import Glibc
#endif

/// The descriptors of one poll() round, rebuilt every round (which fds are watched changes:
/// a closed pipe, an outbox that emptied). `add` gives each a slot to read its events back
/// from. Storage lives as long as the watch that owns it and grows only past its capacity,
/// so a round allocates nothing. A view: never keep one past the call it is handed to.
public struct PollSet {
    private var storage: UnsafeMutablePointer<pollfd>
    private var capacity: Int
    private var ownsStorage = false
    public private(set) var count = 0

    init(_ initial: UnsafeMutableBufferPointer<pollfd>) {
        // A buffer from withUnsafeTemporaryAllocation always has a base address when its
        // capacity is positive; the watcher asks for a positive one.
        storage = initial.baseAddress ?? .allocate(capacity: 1)
        capacity = initial.baseAddress == nil ? 1 : initial.count
        ownsStorage = initial.baseAddress == nil
    }

    /// Frees storage grown onto the heap; the owner calls it once, at the end of its watch.
    mutating func release() {
        if ownsStorage { storage.deallocate() }
        ownsStorage = false
        capacity = 0
        count = 0
    }

    mutating func removeAll() { count = 0 }

    /// Watches `fd` for `events` (POLLIN, POLLOUT) this round; returns its slot, or -1 (and
    /// watches nothing) for a negative fd.
    public mutating func add(_ fd: Int32, events: Int16 = Int16(POLLIN)) -> Int {
        guard fd >= 0 else { return -1 }
        if count == capacity { grow() }
        storage[count] = pollfd(fd: fd, events: events, revents: 0)
        count += 1
        return count - 1
    }

    /// What poll() reported for `slot` (0 for -1: a descriptor that was not watched).
    public func revents(_ slot: Int) -> Int16 {
        slot >= 0 && slot < count ? storage[slot].revents : 0
    }

    /// Whether anything happened on `slot`: data, hang-up or error alike mean "look".
    public func isReady(_ slot: Int) -> Bool { revents(slot) != 0 }

    func poll(timeoutMs: Int32) -> Int32 {
        Glibc.poll(storage, nfds_t(count), timeoutMs)
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<pollfd>.allocate(capacity: capacity * 2)
        larger.update(from: storage, count: count)
        if ownsStorage { storage.deallocate() }
        storage = larger
        capacity *= 2
        ownsStorage = true
    }
}
