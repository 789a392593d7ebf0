import ExecutorKit
import PlanterTestSupport
import ProcessSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ChildWatcher on its own, with real children: the parts no plugin reaches (a termination the
/// client asks for, more descriptors than the initial poll set, an outbox into a slow reader)
/// and the ones every plugin leans on (group kill at the deadline, output drained after exit).
@Suite struct ChildWatcherTests {
    /// Collects what the child writes.
    struct Collect: ChildWatchClient {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {
            if stream == .stdout { stdout.append(contentsOf: bytes) } else { stderr.append(contentsOf: bytes) }
        }
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    static func spawn(_ script: String, flags: UInt32 = 0) throws -> ChildProcess {
        try ChildProcess.spawn(["/bin/sh", "-c", script], flags: UInt32(PS_SPAWN_PIDFD) | flags).get()
    }

    @Test func deadlineKillsTheWholeGroupGrandchildIncluded() throws {
        var child = try Self.spawn("sleep 300 & echo $!; wait")
        var watcher = ChildWatcher(call: nil, deadlineNs: ChildWatcher.deadline(afterMs: 200))
        var output = Collect()
        var kill = GroupSignals(graceMs: 5000)
        let start = ContinuousClock.now
        let end = watcher.run(&child, client: &output, escalation: &kill)
        let status = child.killAndReap()
        #expect(end == .exited)
        #expect(watcher.ending == .timedOut)
        // The shell waits for its job: only the TERM to the group ends it, well before the grace.
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(status?.signal == SIGTERM, "\(String(describing: status))")
        let grandchild = try #require(Int32(output.text.split(separator: "\n").first ?? ""))
        #expect(isGone(grandchild), "background sleep \(grandchild) survived the deadline")
    }

    @Test func withoutAnEscalationTheDeadlineReturnsAtOnce() throws {
        var child = try Self.spawn("sleep 300")
        var watcher = ChildWatcher(call: nil, deadlineNs: ChildWatcher.deadline(afterMs: 100))
        var output = Collect()
        let end = watcher.run(&child, client: &output)
        #expect(end == .timedOut)
        #expect(!child.hasExited, "the caller, not the watcher, ends the child here")
        #expect(child.killAndReap()?.signal == SIGKILL)
    }

    @Test func outputWrittenBeforeExitIsDrainedInFull() throws {
        // 60,000 bytes fit the pipe, so the child exits before most of them are read; with
        // 1 KiB reads the rest can only arrive through the drain after the exit.
        var child = try Self.spawn("head -c 60000 /dev/zero | tr '\\0' x; echo end >&2")
        var watcher = ChildWatcher(call: nil, deadlineNs: nil, drainReads: 100, readSize: 1024)
        var output = Collect()
        let end = watcher.run(&child, client: &output)
        _ = child.killAndReap()
        #expect(end == .exited)
        #expect(output.stdout.count == 60000)
        #expect(output.stderr == Array("end\n".utf8))
    }

    @Test func theDrainIsBoundedWhenAnEscapedWriterKeepsThePipeFull() throws {
        // setsid leaves the group, so the group kill misses it and `yes` never lets the pipe
        // go empty: the drain must stop at its bound instead of waiting for end-of-file.
        var child = try Self.spawn("setsid sh -c 'echo $$ >&2; exec yes' & sleep 0.2")
        var watcher = ChildWatcher(call: nil, deadlineNs: nil, drainReads: 3, readSize: 1024)
        var output = Collect()
        let start = ContinuousClock.now
        let end = watcher.run(&child, client: &output)
        _ = child.killAndReap()  // closing the pipe ends `yes` with SIGPIPE
        #expect(end == .exited)
        #expect(ContinuousClock.now - start < .seconds(30))
        if let pid = Int32(String(decoding: output.stderr, as: UTF8.self).split(separator: "\n").first ?? "") {
            kill(pid, SIGKILL)  // a safety net
        }
    }

    /// The host's way to stop an executor process: it asks first (closes stdin), and only
    /// when that has not worked within its own wait does it have the watcher terminate.
    struct StopAfterAWait: ChildWatchClient {
        let askedAt = ps_monotonic_ns()
        let waitNs: Int64 = 200_000_000
        mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {}
        mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake { ChildWatcher.Wake(atNs: askedAt + waitNs) }
        mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step {
            now >= askedAt + waitNs ? .terminate : .proceed
        }
    }

    @Test func terminationTheClientAsksForSignalsThenKills() throws {
        var child = try Self.spawn("trap '' TERM; while :; do sleep 1; done")
        var watcher = ChildWatcher(call: nil, deadlineNs: nil)
        var client = StopAfterAWait()
        var kill = GroupSignals(graceNs: 300_000_000)
        let start = ContinuousClock.now
        let end = watcher.run(&child, client: &client, escalation: &kill)
        let elapsed = ContinuousClock.now - start
        let status = child.killAndReap()
        #expect(end == .exited)
        #expect(watcher.ending == .requested)
        #expect(status?.signal == SIGKILL, "\(String(describing: status))")
        // Asked again every round, the termination starts once: the grace is not cut short.
        #expect(elapsed >= .milliseconds(480), "the client's 200 ms and the 300 ms grace were not both given: \(elapsed)")
    }

    /// Watches many pipes of its own; one of them, past the initial poll set, ends the watch.
    struct ManyPipes: ChildWatchClient {
        var readEnds: [Int32] = []
        var slots: [Int] = []
        var fired: Int?
        mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) {}
        mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake {
            slots = readEnds.map { fds.add($0) }
            return .never
        }
        mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step {
            guard let index = slots.firstIndex(where: { fds.isReady($0) }) else { return .proceed }
            fired = index
            return .stop(drain: false)
        }
    }

    @Test func extraDescriptorsBeyondTheInitialPollSetAreWatched() throws {
        var client = ManyPipes()
        var writeEnds: [Int32] = []
        for _ in 0..<20 {
            var ends: [Int32] = [-1, -1]
            #expect(pipe(&ends) == 0)
            client.readEnds.append(ends[0])
            writeEnds.append(ends[1])
        }
        defer { for fd in client.readEnds + writeEnds { close(fd) } }
        #expect(write(writeEnds[17], "x", 1) == 1)
        var child = try Self.spawn("sleep 300")
        var watcher = ChildWatcher(call: nil, deadlineNs: ChildWatcher.deadline(afterMs: 30_000))
        let end = watcher.run(&child, client: &client)
        _ = child.killAndReap()
        #expect(end == .stopped)
        #expect(client.fired == 17)
    }

    /// Feeds the child's stdin from an outbox, closing it once all is out.
    struct Feed: ChildWatchClient {
        var stdinFD: Int32
        var outbox = Outbox()
        var slot = -1
        var stdout: [UInt8] = []
        mutating func output(_ stream: PluginStream, _ bytes: UnsafeRawBufferPointer) { stdout.append(contentsOf: bytes) }
        mutating func prepare(_ fds: inout PollSet) -> ChildWatcher.Wake {
            slot = outbox.isEmpty ? -1 : fds.add(stdinFD, events: outbox.events)
            return .never
        }
        mutating func handle(_ fds: PollSet, now: Int64) -> ChildWatcher.Step {
            if fds.isReady(slot) {
                let written = outbox.flush(to: stdinFD)
                #expect(written, "the child closed its stdin early")
            }
            if outbox.isEmpty && stdinFD >= 0 {
                close(stdinFD)  // end-of-file for the child
                stdinFD = -1
            }
            return .proceed
        }
    }

    @Test func anOutboxFeedsMoreThanAPipeHoldsWithoutBlocking() throws {
        // SIGPIPE would kill the test process if the child closed its stdin early.
        signal(SIGPIPE, SIG_IGN)
        var child = try Self.spawn("wc -c", flags: UInt32(PS_SPAWN_STDIN_PIPE))
        _ = fcntl(child.stdinFD, F_SETFL, fcntl(child.stdinFD, F_GETFL) | O_NONBLOCK)
        var client = Feed(stdinFD: child.stdinFD)
        child.stdinFD = -1  // the client owns and closes it
        client.outbox.append([UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20))
        var watcher = ChildWatcher(call: nil, deadlineNs: ChildWatcher.deadline(afterMs: 30_000))
        let end = watcher.run(&child, client: &client)
        _ = child.killAndReap()
        #expect(end == .exited)
        #expect(String(decoding: client.stdout.filter { $0 != 0x20 && $0 != 0x0A }, as: UTF8.self) == "1048576")
    }
}
