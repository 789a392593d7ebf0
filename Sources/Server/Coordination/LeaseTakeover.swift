import Logging
import PlanterHost
import PlanterRedis
import Synchronization

extension RedisLease: ServiceLease {}

/// Joins a namespace's RedisLease to its service: each lease taken sets the fencing token of
/// the service's Redis writes, and a lease taken by a Planter that was not running the
/// namespace makes it take over the last holder's state (and resume its interrupted run).
/// The lease may change before the service exists: the token waits for `attach`.
final class LeaseTakeover: Sendable {
    private struct State {
        var service: PlanterService?
        var pending: Int64??
    }

    private let state = Mutex(State())
    let replica: RedisHistory
    let namespace: String
    let logger: Logger

    init(replica: RedisHistory, namespace: String, logger: Logger) {
        self.replica = replica
        self.namespace = namespace
        self.logger = logger
    }

    /// Called by the lease's thread.
    func changed(_ token: Int64?) {
        if let token { replica.fence(token) }
        let service = state.withLock { state -> PlanterService? in
            if state.service == nil { state.pending = .some(token) }
            return state.service
        }
        if let service { handle(token, service) }
    }

    func attach(_ service: PlanterService) {
        let pending = state.withLock { state -> Int64?? in
            state.service = service
            defer { state.pending = nil }
            return state.pending
        }
        if let pending { handle(pending, service) }
    }

    /// Still without the lease a TTL later, another Planter may hold it and resume the run:
    /// this one's copy is cancelled (its writes are refused by the fencing token anyway), so it
    /// cannot go on should the lease come back to it later.
    private func abandonIfStillLost(_ service: PlanterService) {
        Task { [logger, namespace] in
            guard let lease = await service.configuration.lease as? RedisLease else { return }
            try? await Task.sleep(for: lease.ttl)
            guard !lease.mayStartPhases,
                let runId = await service.abandonActiveRun(reason: "this Planter lost the namespace's lease; its next holder resumes the run")
            else { return }
            logger.warning("the namespace's lease stayed lost for its TTL: this Planter starts nothing more of the run (running attempts finish)",
                           metadata: ["namespace": "\(namespace)", "runId": "\(runId)"])
        }
    }

    private func handle(_ token: Int64?, _ service: PlanterService) {
        guard let token else {
            logger.warning("lost the namespace's lease: starting no new phase until it is back", metadata: ["namespace": "\(namespace)"])
            abandonIfStillLost(service)
            return
        }
        logger.info("holding the namespace's lease", metadata: ["namespace": "\(namespace)", "fencingToken": "\(token)"])
        let replica = replica
        let logger = logger
        let namespace = namespace
        Task {
            let saved: (document: [UInt8], owner: String)?
            do { saved = try await replica.loadState() } catch {
                logger.error("cannot read the namespace's state from Redis to take over", metadata: ["namespace": "\(namespace)",
                                                                                                    "reason": "\(error)"])
                return
            }
            guard let saved else { return }
            for warning in await service.takeOver(state: saved.document, previousOwner: saved.owner) {
                logger.warning("\(warning)", metadata: ["namespace": "\(namespace)"])
            }
        }
    }
}
