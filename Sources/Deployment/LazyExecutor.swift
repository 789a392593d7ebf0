import ExecutorRuntime
import PlanterCore
import Synchronization

/// An executor instance made on its first call, not when the deployment is read: checking a
/// plan (`planter validate`, a dry run) starts nothing, and a python `pool: 4` starts its
/// interpreters only when a phase runs on it. A create error fails the calls that needed the
/// instance, each with the plugin's message; it is not retried (the config does not change).
final class LazyExecutor: Executor {
    typealias Make = @Sendable () throws(PluginFailure) -> any Executor

    private enum State {
        case waiting(Make)
        case made(any Executor)
        case refused(String)
    }

    private let name: String
    // Creating holds the lock: a second first call waits for the instance rather than making another.
    private let state: Mutex<State>

    init(name: String, make: @escaping Make) {
        self.name = name
        state = Mutex(.waiting(make))
    }

    func execute(_ request: ExecuteRequest, call: CallContext) -> ExecuteResult {
        switch instance() {
        case .success(let executor): return executor.execute(request, call: call)
        case .failure(let reason): return .failed("executor \(name) could not be created: \(reason)")
        }
    }

    /// The instance, made now if this is the first ask.
    func instance() -> Result<any Executor, Reason> {
        state.withLock { state in
            switch state {
            case .made(let executor): return .success(executor)
            case .refused(let reason): return .failure(Reason(text: reason))
            case .waiting(let make):
                do throws(PluginFailure) {
                    let executor = try make()
                    state = .made(executor)
                    return .success(executor)
                } catch {
                    state = .refused(error.reason)
                    return .failure(Reason(text: error.reason))
                }
            }
        }
    }

    /// Lets go of the instance (the plugin destroys it once no call uses it any more); later
    /// calls fail. Called when the deployment is closed, so a plugin's cleanup (temporary
    /// folders, worker processes) runs before the process exits rather than never.
    func close() {
        let executor = state.withLock { state -> (any Executor)? in
            defer { state = .refused("executor \(name) was shut down") }
            if case .made(let executor) = state { return executor }
            return nil
        }
        _ = executor  // released here, outside the lock: destroy may take a while
    }

    struct Reason: Error, CustomStringConvertible {
        var text: String
        var description: String { text }
    }
}
