import PlanterCore

/// Runs a validated Plan: phases start when what they wait for has succeeded (or failed
/// with `continue`), at most `parallel` at once, ready phases in manifest order.
///
/// Executors block, so the runner uses its own worker threads (one per parallel slot)
/// plus a clock thread for timers; callers see `run() async` or `runBlocking()`.
public final class Runner: Sendable {
    private let engine: RunEngine

    public init(plan: Plan, options: RunOptions, sinks: [any EventSink] = []) {
        engine = RunEngine(plan: plan, options: options, sinks: sinks)
    }

    public var runId: String { engine.options.runId }

    /// Runs to the end without blocking a Swift concurrency thread.
    public func run() async -> RunResult {
        await withCheckedContinuation { (continuation: CheckedContinuation<RunResult, Never>) in
            startThread(name: "planter-run") { continuation.resume(returning: self.runBlocking()) }
        }
    }

    /// Runs to the end on the calling thread's watch (it waits; workers do the calls).
    public func runBlocking() -> RunResult {
        let engine = self.engine
        engine.monitor.lock()
        engine.start()
        let workers = min(engine.options.parallel, max(1, engine.unfinished))
        if !engine.finished {
            for _ in 0..<workers { startThread(name: "planter-worker") { Runner.work(engine) } }
            startThread(name: "planter-clock") { Runner.tick(engine) }
        }
        while !engine.finished { engine.done.wait() }
        let result = engine.result
        engine.monitor.unlock()
        return result
    }

    /// Cancels running phases (their process groups are killed by the executors) and
    /// skips what has not started. Safe from any thread, at any time.
    public func cancel(reason: String = "run cancelled", killingRunning: Bool = true) {
        engine.monitor.withLock { engine.cancel(reason: reason, killingRunning: killingRunning) }
    }

    /// Pauses the run: no phase starts until `resume`; running ones finish. False when it was
    /// already paused or is over. Safe from any thread.
    @discardableResult
    public func pause(reason: String = "paused") -> Bool { engine.monitor.withLock { engine.setPaused(true, reason: reason) } }

    @discardableResult
    public func resume(reason: String = "resumed") -> Bool { engine.monitor.withLock { engine.setPaused(false, reason: reason) } }

    public var isPaused: Bool { engine.monitor.withLock { engine.paused } }

    /// The run as it stands now.
    public func snapshot() -> RunResult { engine.monitor.withLock { engine.result } }

    private static func work(_ engine: RunEngine) {
        let capacity = engine.options.capacity
        var holding = false
        engine.monitor.lock()
        while !engine.finished {
            if let gate = engine.options.mayStartPhase, !engine.stopping, !engine.ready.isEmpty, !gate() {
                if holding { capacity?.pool.release() }
                holding = false
                engine.workAvailable.wait(untilMonotonic: Monitor.monotonicNow() + 50_000_000)
                continue
            }
            // A shared slot first (other runs may hold them all), outside the run's lock.
            if let capacity, !holding, !engine.stopping, !engine.paused, !engine.ready.isEmpty {
                engine.monitor.unlock()
                capacity.pool.acquire(capacity.lane)
                engine.monitor.lock()
                holding = true
                continue
            }
            if !engine.stopping, !engine.paused, let index = engine.ready.pop() {
                let job = engine.startAttempt(index)
                engine.monitor.unlock()
                let result = job.binding.executor.execute(job.request, call: job.call)
                if holding { capacity?.pool.release() }
                holding = false
                engine.monitor.lock()
                engine.finishAttempt(job, result)
                continue
            }
            if holding { capacity?.pool.release() }
            holding = false
            engine.idleWorkers += 1
            engine.workAvailable.wait()
            engine.idleWorkers -= 1
        }
        if holding { capacity?.pool.release() }
        engine.monitor.unlock()
    }

    private static func tick(_ engine: RunEngine) {
        engine.monitor.lock()
        while !engine.finished {
            guard let next = engine.timers.min else {
                engine.clockChanged.wait()
                continue
            }
            if next.deadline <= Monitor.monotonicNow() {
                _ = engine.timers.pop()
                engine.fire(next)
            } else {
                engine.clockChanged.wait(untilMonotonic: next.deadline)
            }
        }
        engine.monitor.unlock()
    }
}
