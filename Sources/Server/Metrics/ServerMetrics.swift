import CoreMetrics
import Prometheus
import Synchronization

/// The server's swift-metrics, exported by swift-prometheus: plans submitted, runs by
/// result, phases by executor and status, phase durations (each of those by namespace), HTTP
/// requests by route and status.
final class ServerMetrics: Sendable {
    static let phaseDurationLabel = "planter_phase_duration_seconds"

    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let requests: RequestCounters
    /// Counters made on first use (by run result, executor/status, route/method/status).
    private let dynamic = Mutex<[String: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    /// HTTP counts already moved into Prometheus counters, by slot.
    private let exported = Mutex<[Int: Int]>([:])

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[Self.phaseDurationLabel] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
            .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
        ]
        self.factory = factory
        requests = RequestCounters()
        // The default namespace's plan counters exist from the start, at zero.
        for mode in ["run", "dryRun", "stage", "queue"] { _ = counter("planter_plans_submitted_total", [("namespace", "default"), ("mode", mode)]) }
    }

    func planSubmitted(namespace: String, mode: String) {
        counter("planter_plans_submitted_total", [("namespace", namespace), ("mode", mode)]).increment()
    }

    func runFinished(namespace: String, result: String) {
        counter("planter_runs_total", [("namespace", namespace), ("result", result)]).increment()
    }

    func runStarted(namespace: String) {
        counter("planter_runs_started_total", [("namespace", namespace)]).increment()
    }

    func phaseFinished(namespace: String, executor: String, status: String, durationNanoseconds: Int64?) {
        counter("planter_phases_total", [("namespace", namespace), ("executor", executor), ("status", status)]).increment()
        guard let durationNanoseconds else { return }
        let key = namespace + "\u{0}" + executor
        let timer = timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = CoreMetrics.Timer(label: Self.phaseDurationLabel, dimensions: [("namespace", namespace), ("executor", executor)],
                                          factory: factory)
            timers[key] = timer
            return timer
        }
        timer.recordNanoseconds(durationNanoseconds)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = label + dimensions.map { "\u{0}" + $0.0 + "=" + $0.1 }.joined()
        return dynamic.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// Prometheus text exposition of everything.
    func render() -> [UInt8] {
        syncRequestCounters()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 << 10)
        registry.emit(into: &buffer)
        return buffer
    }

    private func syncRequestCounters() {
        let snapshot = requests.snapshot()
        let deltas: [(Int, String, String, String, Int)] = exported.withLock { exported in
            var deltas: [(Int, String, String, String, Int)] = []
            for entry in snapshot {
                let previous = exported[entry.slot] ?? 0
                guard entry.count > previous else { continue }
                exported[entry.slot] = entry.count
                deltas.append((entry.slot, entry.pattern, entry.method, entry.status, entry.count - previous))
            }
            return deltas
        }
        for (_, pattern, method, status, delta) in deltas {
            counter("planter_http_requests_total", [("route", pattern), ("method", method), ("status", status)]).increment(by: Int64(delta))
        }
    }
}
