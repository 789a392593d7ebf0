import AsyncHTTPClient
import Logging
import NIOCore
import PlanterHost
import PlanterJSON
import ServiceLifecycle

/// `PLANTER_SYNC_FROM`: takes another Planter's plan (`GET <remote>/state`, its `phases`).
/// At start, when there was no local state file; with `PLANTER_SYNC_INTERVAL`, every N
/// seconds after that (one way: the remote wins). A remote that is down or answers
/// garbage is logged and retried, never fatal.
struct SyncFrom: Service {
    let remote: String
    let token: String?
    let interval: Duration?
    /// The initial sync is still owed (there was no local state and the first try failed).
    let pendingInitial: Bool
    let service: PlanterService
    let logger: Logger

    static let maxBytes = 64 << 20

    enum Outcome {
        case adopted
        case unchanged
        case failed
    }

    /// One fetch and adopt; logs what happened.
    static func syncOnce(remote: String, token: String?, service: PlanterService, logger: Logger,
                         timeout: TimeAmount = .seconds(10)) async -> Outcome {
        let url = remote + "/state"
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let body: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            guard response.status == .ok else {
                logger.warning("sync-from: the remote answered \(response.status.code)", metadata: ["url": "\(url)"])
                return .failed
            }
            body = try await response.body.collect(upTo: maxBytes)
        } catch {
            logger.warning("sync-from: the remote is unreachable", metadata: ["url": "\(url)", "error": "\(error)"])
            return .failed
        }
        let state: JSON
        do {
            state = try body.withUnsafeReadableBytes { raw throws(JSONParseError) in try JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self)) }
        } catch {
            logger.warning("sync-from: the remote's /state is not JSON", metadata: ["url": "\(url)", "error": "\(error)"])
            return .failed
        }
        guard case .object = state, let phases = state["phases"] else {
            logger.warning("sync-from: the remote's /state has no phases", metadata: ["url": "\(url)"])
            return .failed
        }
        if phases.arrayValue?.isEmpty == true {
            logger.info("sync-from: the remote has no plan yet", metadata: ["url": "\(url)"])
            return .failed
        }
        do {
            if try await service.adopt(remoteState: state) {
                logger.notice("sync-from: adopted the remote plan", metadata: ["url": "\(url)", "planId": "\(state["planId"]?.stringValue ?? "?")",
                                                                              "phases": "\(phases.arrayValue?.count ?? 0)"])
                return .adopted
            }
            return .unchanged
        } catch {
            logger.warning("sync-from: the remote plan was not adopted", metadata: ["url": "\(url)", "reason": "\(error.description)"])
            return .failed
        }
    }

    func run() async throws {
        var pending = pendingInitial
        var retry: Duration = .seconds(1)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if pending {
                // Until the first sync succeeds, or a plan arrives locally.
                if await hasLocalPlan() {
                    pending = false
                    continue
                }
                if await Self.syncOnce(remote: remote, token: token, service: service, logger: logger) != .failed {
                    pending = false
                    continue
                }
                let delay = retry
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                retry = min(retry * 2, interval ?? .seconds(30), .seconds(30))
                continue
            }
            guard let interval else { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            _ = await Self.syncOnce(remote: remote, token: token, service: service, logger: logger)
        }
    }

    private func hasLocalPlan() async -> Bool {
        await service.stateAnswer()["planId"]?.stringValue != nil
    }
}
