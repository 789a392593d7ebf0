import Logging
import PlanterCore
import PlanterHost
import PlanterJSON
import Synchronization

/// Watches run events for metrics (runs by result, phases by executor and status, phase
/// durations) and for the server log (runs starting and ending, phases failing). Called
/// from the runner's threads: it keeps a small map of phases in flight and returns quickly.
final class RunObserver: EventSink {
    private struct InFlight {
        var executor: String
        var startedAt: Timestamp
    }

    private let metrics: ServerMetrics
    private let logger: Logger
    /// The namespace whose runs it watches: a label of its metrics and a field of its log lines.
    private let namespace: String
    private let inFlight = Mutex<[String: InFlight]>([:])

    init(metrics: ServerMetrics, logger: Logger, namespace: String) {
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "namespace"] = "\(namespace)"
        self.logger = logger
        self.namespace = namespace
    }

    func receive(_ event: RunEvent) {
        switch event.kind {
        case .runStarted:
            metrics.runStarted(namespace: namespace)
            logger.info("run started", metadata: ["runId": "\(event.runId)", "message": "\(event.message)"])
        case .attemptStarted:
            guard let phaseId = event.phaseId else { return }
            let executor = event.details["executor"]?.stringValue ?? "unknown"
            let key = event.runId + "\u{0}" + phaseId
            inFlight.withLock { phases in
                if phases[key] == nil { phases[key] = InFlight(executor: executor, startedAt: event.time) }
            }
        case .phaseFinished, .phaseSkipped:
            guard let phaseId = event.phaseId else { return }
            let key = event.runId + "\u{0}" + phaseId
            let started = inFlight.withLock { $0.removeValue(forKey: key) }
            let status = event.details["status"]?.stringValue ?? (event.kind == .phaseSkipped ? "skipped" : "unknown")
            let duration = started.map { event.time.nanoseconds - $0.startedAt.nanoseconds }
            metrics.phaseFinished(namespace: namespace, executor: started?.executor ?? "none", status: status, durationNanoseconds: duration)
            if event.kind == .phaseFinished && status != "succeeded" {
                logger.warning("phase \(status)", metadata: ["runId": "\(event.runId)", "phaseId": "\(phaseId)", "message": "\(event.message)"])
            }
        case .runFinished:
            let result = event.details["status"]?.stringValue ?? "unknown"
            metrics.runFinished(namespace: namespace, result: result)
            let prefix = event.runId + "\u{0}"
            inFlight.withLock { phases in
                for key in phases.keys where key.hasPrefix(prefix) { phases.removeValue(forKey: key) }
            }
            logger.info("run finished", metadata: ["runId": "\(event.runId)", "result": "\(result)",
                                                   "durationMs": "\(event.details["durationMs"]?.intValue ?? 0)"])
        default:
            return
        }
    }
}
