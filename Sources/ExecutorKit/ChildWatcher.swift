import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// What a plugin adds to a `ChildWatcher`'s loop: where output goes, and any descriptors and
/// timers of its own (a reply channel, a wake-up pipe, an outbox to write). Every method but
/// `output` has a default that does nothing.
public protocol ChildWatchClient {
    /// A chunk the child wrote; valid only during the call (copy what you keep).
    mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer)
    /// The pipe of `stream` gave end-of-file (or an error) and is closed.
    mutating func outputClosed(_ stream: PluginStream)
    /// Adds this round's extra descriptors to `fds` (keep the slots for `handle`) and says
    /// when to wake up at the latest.
    mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake
    /// Called every round after poll() and the output reads, ready descriptors or not.
    mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step
}

extension ChildWatchClient {
    public mutating func outputClosed(_ stream: PluginStream) {}
    public mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake { .never }
    public mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step { .proceed }
}

/// Streams a call's child output to the host, as is.
public struct CallOutput: ChildWatchClient {
    public let call: PluginCall
    public init(_ call: PluginCall) { self.call = call }
    public func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) { call.output(stream, bytes) }
}

/// Watches one child on the calling thread until it exits or the client stops the watch: one
/// poll() over its stdout/stderr pipes, its pidfd, the call's cancel descriptor and the
/// client's descriptors, so nothing spins and nothing sleeps. On cancellation or at the
/// deadline it either returns at once (no escalation given: the caller ends the child) or
/// runs the escalation's steps until the child exits. Once the child has exited, its group
/// gets SIGKILL and what is left in its pipes is read (a bounded number of reads); the caller
/// then reaps it (`ChildProcess.killAndReap`).
public struct ChildWatcher {
    /// Why the watcher set out to end the child.
    public enum Ending: Sendable, Equatable { case cancelled, timedOut, requested }

    /// How a watch ended.
    public enum End: Sendable, Equatable {
        /// The child exited (its output is drained); reap it.
        case exited
        /// The client's `handle` returned `.stop`; the child may still run.
        case stopped
        /// Cancelled, or the deadline passed, with no escalation: the child still runs.
        case cancelled, timedOut
        /// poll() failed: the escalation was aborted (SIGKILL); reap the child.
        case lost
    }

    /// What the client wants after a round.
    public enum Step: Sendable, Equatable {
        case proceed
        /// End the watch now, reading what is in the output pipes first when `drain` is set.
        case stop(drain: Bool)
        /// Start the escalation (if there is one and it has not started).
        case terminate
    }

    public struct Wake: Sendable {
        /// The monotonic time (ps_monotonic_ns) by which to wake up; nil: no time of its own.
        public var atNs: Int64?
        /// Something is noticed only by looking (a cancel flag with no descriptor): look again
        /// every `ChildWatcher.lookIntervalMs`.
        public var looks: Bool
        public init(atNs: Int64? = nil, looks: Bool = false) {
            self.atNs = atNs
            self.looks = looks
        }
        public static let never = Wake()
    }

    /// How often what has no descriptor (an exit without a pidfd, a cancel flag) is looked at.
    public static let lookIntervalMs: Int64 = 20

    private let call: PluginCall?
    private let deadlineNs: Int64?
    private let drainReads: Int
    private let readSize: Int
    /// Why the watcher began ending the child; nil when it did not.
    public private(set) var ending: Ending?

    /// `call`: whose cancellation ends the child (nil: none); `deadlineNs`: when it is out of
    /// time (ps_monotonic_ns; nil: never); `drainReads`: reads per pipe after the end (bounded,
    /// since a process that escaped the group may keep a pipe open, even full).
    public init(call: PluginCall?, deadlineNs: Int64?, drainReads: Int = 64, readSize: Int = 64 * 1024) {
        self.call = call
        self.deadlineNs = deadlineNs
        self.drainReads = drainReads
        self.readSize = max(1, readSize)
    }

    /// The deadline `timeoutMs` from now; nil for none (nil or not positive).
    public static func deadline(afterMs timeoutMs: Int?) -> Int64? {
        guard let timeoutMs, timeoutMs > 0 else { return nil }
        let now = ps_monotonic_ns()
        let (sum, overflow) = now.addingReportingOverflow(nanoseconds(milliseconds: timeoutMs))
        return overflow ? Int64.max : sum
    }

    /// Watches with no escalation: on cancellation or at the deadline it returns at once.
    public mutating func run<Client: ChildWatchClient>(_ child: inout ChildProcess, client: inout Client) -> End {
        var none: Escalating<NoEscalation>?
        return watch(&child, client: &client, escalation: &none)
    }

    /// Watches, ending the child with `escalation` when it has to (read it afterwards for
    /// what its steps learned).
    public mutating func run<Client: ChildWatchClient, Kill: KillEscalation>(
        _ child: inout ChildProcess, client: inout Client, escalation: inout Kill
    ) -> End {
        var escalating: Escalating<Kill>? = Escalating(escalation)
        defer { if let escalating { escalation = escalating.kill } }
        return watch(&child, client: &client, escalation: &escalating)
    }

    private mutating func watch<Client: ChildWatchClient, Kill: KillEscalation>(
        _ child: inout ChildProcess, client: inout Client, escalation: inout Escalating<Kill>?
    ) -> End {
        // Asked once: the host makes the descriptor on first use. -1 once cancellation has been
        // seen (it stays readable).
        var cancelFD = call?.cancelFD ?? -1
        let cancelByFlag = call != nil && cancelFD < 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
        defer { buffer.deallocate() }

        return withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 8) { initial -> End in
            var fds = PollSet(initial)
            defer { fds.release() }
            while true {
                fds.removeAll()
                let outSlot = fds.add(child.stdoutFD)
                let errSlot = fds.add(child.stderrFD)
                let pidSlot = fds.add(child.pidFD)
                let cancelSlot = ending == nil ? fds.add(cancelFD) : -1
                let wake = client.prepare(&fds)

                var next = escalation?.dueNs
                if ending == nil, let deadlineNs { next = min(next ?? deadlineNs, deadlineNs) }
                if let at = wake.atNs { next = min(next ?? at, at) }
                var timeout: Int64 = -1
                if let next {
                    // Round up, so we never wake just before the time and go round again.
                    let now = ps_monotonic_ns()
                    let remaining = next > now ? next - now : 0
                    timeout = remaining / 1_000_000 + (remaining % 1_000_000 == 0 ? 0 : 1)
                }
                if child.pidFD < 0 || (cancelByFlag && ending == nil) || wake.looks {
                    timeout = timeout < 0 ? Self.lookIntervalMs : min(timeout, Self.lookIntervalMs)
                }

                let ready = fds.poll(timeoutMs: Int32(clamping: timeout))
                if ready < 0 && errno != EINTR {
                    // Cannot watch the child any more: end it rather than leave it behind.
                    if escalation != nil { escalation?.kill.abort(group: child.pid) } else { _ = ps_kill_group(child.pid, SIGKILL) }
                    drain(child, &client, buffer)
                    return .lost
                }
                if ready > 0 {
                    // Any event means a read: a hang-up can come without POLLIN while the last
                    // chunk is still in the pipe. One read a round keeps both streams flowing.
                    if fds.isReady(outSlot) { readOnce(&child.stdoutFD, .stdout, &client, buffer) }
                    if fds.isReady(errSlot) { readOnce(&child.stderrFD, .stderr, &client, buffer) }
                }
                var now = ps_monotonic_ns()
                switch client.handle(fds, now: now) {
                case .proceed: break
                case .stop(let wantsDrain):
                    if wantsDrain { drain(child, &client, buffer) }
                    return .stopped
                case .terminate:
                    if ending == nil { ending = .requested }
                    escalation?.start(group: child.pid)
                }
                if ending == nil {
                    let cancelled = cancelSlot >= 0 ? fds.isReady(cancelSlot) : (cancelByFlag && call?.isCancelled == true)
                    if cancelled || deadlineNs.map({ now >= $0 }) == true {
                        ending = cancelled ? .cancelled : .timedOut
                        cancelFD = -1
                        guard escalation != nil else { return cancelled ? .cancelled : .timedOut }
                        escalation?.start(group: child.pid)
                        now = ps_monotonic_ns()
                    }
                }
                escalation?.fireIfDue(group: child.pid, now: now)
                let exited = pidSlot >= 0 ? fds.isReady(pidSlot) : ps_has_exited(child.pid) == 1
                if exited {
                    // The leader is a zombie, so its pid (the pgid) cannot be reused yet: kill
                    // what it left running, which also releases pipes they hold.
                    _ = ps_kill_group(child.pid, SIGKILL)
                    drain(child, &client, buffer)
                    return .exited
                }
            }
        }
    }

    private func readOnce<Client: ChildWatchClient>(
        _ fd: inout Int32, _ stream: PluginStream, _ client: inout Client, _ buffer: UnsafeMutableRawBufferPointer
    ) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n > 0 {
            client.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(fd)
            fd = -1
            client.outputClosed(stream)
        }
    }

    /// Reads what is in the pipes now, up to `drainReads` reads each, without waiting for
    /// end-of-file: a process that escaped the group kill (setsid) may hold a pipe open.
    private func drain<Client: ChildWatchClient>(
        _ child: ChildProcess, _ client: inout Client, _ buffer: UnsafeMutableRawBufferPointer
    ) {
        drain(child.stdoutFD, .stdout, &client, buffer)
        drain(child.stderrFD, .stderr, &client, buffer)
    }

    private func drain<Client: ChildWatchClient>(
        _ fd: Int32, _ stream: PluginStream, _ client: inout Client, _ buffer: UnsafeMutableRawBufferPointer
    ) {
        guard fd >= 0 else { return }
        var reads = 0
        while reads < drainReads {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                client.output(stream, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                reads += 1
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
    }
}

/// The escalation of a watch that has none (never stepped: the watch returns first).
private struct NoEscalation: KillEscalation {
    mutating func step(_ step: Int, group: pid_t) -> Int64? { nil }
}

/// `milliseconds` in nanoseconds, saturating instead of overflowing.
func nanoseconds(milliseconds: Int) -> Int64 {
    let (product, overflow) = Int64(clamping: milliseconds).multipliedReportingOverflow(by: 1_000_000)
    return overflow ? (milliseconds < 0 ? Int64.min : Int64.max) : product
}
