import AsyncHTTPClient
import ExecutorKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Bridges the response future to the blocking execute call. The future's callback (on the
/// plugin's event loop) stores the outcome and writes a byte to a pipe; execute waits with
/// one poll() over that pipe and the host's cancel descriptor, so it neither spins nor
/// misses a cancel. execute runs on a host worker thread, never on a Swift concurrency
/// thread or our event loop, so blocking there is what the ABI expects.
final class Completion: Sendable {
    private let readFD: Int32
    private let writeFD: Int32
    private let result = Mutex<Result<HTTPClient.Response, any Error>?>(nil)

    init?() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Called once, from the event loop. The callback retains self, so the pipe outlives it.
    func complete(_ outcome: Result<HTTPClient.Response, any Error>) {
        result.withLock { $0 = outcome }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    var outcome: Result<HTTPClient.Response, any Error>? { result.withLock { $0 } }

    /// Waits until the request completes (true) or the call is cancelled (false). `limitMs`
    /// is the request's own deadline, which the client enforces; waiting stops 2 s past it
    /// as a safety net, should the client ever miss it.
    func wait(call: PluginCall?, limitMs: Int?) -> Bool {
        let cancelFD = call?.cancelFD
        let giveUp = limitMs.map { ContinuousClock.now + .milliseconds($0 + 2000) }
        while true {
            if outcome != nil { return true }
            if let call, call.isCancelled { return false }
            var timeout: Int32 = cancelFD == nil && call != nil ? 50 : 1000
            if let giveUp {
                let left = giveUp - ContinuousClock.now
                if left <= .zero { return outcome != nil }
                timeout = min(timeout, Int32(max(1, left / .milliseconds(1))))
            }
            var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
            if let cancelFD { fds.append(pollfd(fd: cancelFD, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), timeout)  // EINTR or timeout: re-check and loop
        }
    }
}
