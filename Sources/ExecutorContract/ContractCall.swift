import ExecutorRuntime
import PlanterCore
import Foundation
import PlanterJSON
import Synchronization

/// One execute call made by a check, on a thread of its own, so a check can wait for it with a
/// deadline: an executor that ignores a cancel must fail the check, not hang the kit.
final class ContractCall: Sendable {
    let context: CallContext
    private let box: Box
    private let done = DispatchSemaphore(value: 0)
    let started = ContinuousClock.now

    private final class Box: Sendable {
        let state = Mutex(State())
    }

    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var chunks = 0
        var firstChunkAt: ContinuousClock.Instant?
        var result: ExecuteResult?
        var endedAt: ContinuousClock.Instant?
    }

    /// What the call gave, once it returned.
    struct Outcome: Sendable {
        var result: ExecuteResult
        var stdout: String
        var stderr: String
        var chunks: Int
        var elapsed: Duration
        /// Streamed output and the result's own `output` text.
        var allOutput: String { stdout + stderr + (result.output ?? "") }
    }

    /// Starts `request` on `executor`. `cancelled` cancels the call before it starts.
    init(_ executor: any Executor, _ request: ExecuteRequest, cancelled: Bool = false) {
        let box = Box()
        self.box = box
        context = CallContext(output: { stream, bytes in
            box.state.withLock { state in
                if state.firstChunkAt == nil { state.firstChunkAt = .now }
                state.chunks += 1
                if stream == .stdout { state.stdout.append(contentsOf: bytes) } else { state.stderr.append(contentsOf: bytes) }
            }
        })
        if cancelled { context.cancel(reason: "cancelled before the call started (contract check)") }
        let context = self.context
        let done = self.done
        Thread.detachNewThread {
            let result = executor.execute(request, call: context)
            box.state.withLock {
                $0.result = result
                $0.endedAt = .now
            }
            done.signal()
        }
    }

    /// Waits until the call returned, at most `timeout`; nil when it is still running.
    func wait(_ timeout: Duration) -> Outcome? {
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        guard done.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success else { return nil }
        done.signal()  // later waits return at once
        return outcome
    }

    /// Whether it has returned yet, without waiting.
    var hasReturned: Bool { box.state.withLock { $0.result != nil } }

    /// Waits until output containing `text` has arrived (or any output when `text` is empty); false
    /// after `timeout` or when the call returned first.
    func waitForOutput(_ text: String, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (seen, returned) = box.state.withLock { state in
                (text.isEmpty ? state.chunks > 0 : String(decoding: state.stdout + state.stderr, as: UTF8.self).contains(text),
                 state.result != nil)
            }
            if seen { return true }
            if returned { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return false
    }

    private var outcome: Outcome? {
        box.state.withLock { state in
            guard let result = state.result, let end = state.endedAt else { return nil }
            return Outcome(result: result, stdout: String(decoding: state.stdout, as: UTF8.self),
                           stderr: String(decoding: state.stderr, as: UTF8.self), chunks: state.chunks, elapsed: end - started)
        }
    }
}

extension ContractProfile.Case {
    /// The request a check sends for this case.
    func request(id: String, dryRun: Bool = false, timeoutMs: Int? = nil) -> ExecuteRequest {
        ExecuteRequest(runId: "r-contract", phaseId: id, executor: "contract", description: description,
                       payload: payload, dryRun: dryRun, timeoutMs: timeoutMs, inputs: inputs)
    }
}

extension Duration {
    /// "1.25 s", "300 ms": for messages.
    var shortText: String {
        let ms = wholeMilliseconds
        return ms < 1000 ? "\(ms) ms" : String(format: "%.2f s", Double(ms) / 1000)
    }
}

extension ExecuteResult {
    /// `cancelled "timed out"`: status and message, for failure messages.
    var summary: String { message.isEmpty ? status.rawValue : "\(status.rawValue) \"\(message)\"" }
}
