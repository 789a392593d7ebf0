import Dispatch
import ExecutorKit
import ProcessSupport
import Synchronization

/// N warm workers. A call takes one exclusively, runs its phase on it and gives it back;
/// a worker that crashed, timed out or was cancelled is killed and replaced at once, so
/// the pool stays warm.
final class WorkerPool: Sendable {
    private let settings: WorkerSettings
    private let host: PluginHost
    /// Idle workers; nil entries are slots whose worker could not be (re)started yet.
    private let idle: Mutex<[Worker?]>
    /// Counts idle slots, so a call blocks (without spinning) while all N are busy.
    private let free: DispatchSemaphore

    init(size: Int, settings: WorkerSettings, host: PluginHost) throws {
        self.settings = settings
        self.host = host
        var workers: [Worker?] = []
        for _ in 0..<size {
            switch Worker.spawn(settings, oneShot: false) {
            case .success(let worker): workers.append(worker)
            case .failure(let error):
                for worker in workers { worker?.kill() }
                throw error
            }
        }
        idle = Mutex(workers)
        free = DispatchSemaphore(value: size)
    }

    deinit {
        let workers = idle.withLock { workers -> [Worker?] in
            defer { workers.removeAll() }
            return workers
        }
        for worker in workers { worker?.kill() }
    }

    /// A live worker for this call, or an error result (cancelled while waiting, or the
    /// interpreter cannot be started).
    func checkout(call: PluginCall) -> Checkout {
        // Fast path: a slot is free now. Otherwise wait, looking at the cancel flag in
        // between (only when all workers are busy).
        if free.wait(timeout: .now()) != .success {
            while free.wait(timeout: .now() + .milliseconds(20)) != .success {
                if call.isCancelled { return .refused(.cancelled("cancelled while waiting for a python worker")) }
            }
        }
        let slot = idle.withLock { $0.popLast() } ?? nil
        if let slot, !slot.hasExited { return .worker(slot) }
        if let slot {
            // Died while idle (killed from outside, a stray thread called os._exit).
            let status = slot.kill()
            host.log(.warning, "python worker \(slot.pid) had exited while idle (\(describeExit(status))); replacing it")
        }
        switch Worker.spawn(settings, oneShot: false) {
        case .success(let worker): return .worker(worker)
        case .failure(let error):
            checkin(nil)
            return .refused(.failed(error.message))
        }
    }

    enum Checkout {
        case worker(Worker)
        case refused(PluginResult)
    }

    /// Gives a slot back: the worker if it is still good, nil if it was killed.
    func checkin(_ worker: Worker?) {
        idle.withLock { $0.append(worker) }
        free.signal()
    }

    /// Kills `worker` and returns a fresh one to the pool in its place.
    func replace(_ worker: Worker) -> ps_exit_status? {
        let status = worker.kill()
        switch Worker.spawn(settings, oneShot: false) {
        case .success(let fresh): checkin(fresh)
        case .failure(let error):
            host.log(.error, "cannot replace python worker: \(error.message)")
            checkin(nil)
        }
        return status
    }
}
