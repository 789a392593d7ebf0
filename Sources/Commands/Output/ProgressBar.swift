import ArgumentParser
import Dispatch
import PlanterCore
import PlanterHost
import Synchronization

/// Live progress for plans longer than a screen: one line redrawn in place (done/total, counts
/// by status, the phases running, elapsed time) instead of a line per phase. Failures still get
/// a line of their own above it, so they stay on screen. Events arrive on the runner's threads:
/// each only updates counts; the line is drawn at most every `interval`, and a timer keeps the
/// elapsed time moving while nothing happens.
// @unchecked: the timer (a DispatchSource, itself thread-safe) is set up in init and only cancelled after.
package final class ProgressBar: EventSink, @unchecked Sendable {
    private struct State {
        var total: Int
        var finished: [String: PhaseStatus] = [:]
        var running: [String] = []
        var lastDraw: Int64 = 0
        var drawn = false
        var closed = false
    }

    private let state: Mutex<State>
    private let color: Bool
    private let width: Int
    private let started = Timestamp.now()
    private let timer: any DispatchSourceTimer
    package static let interval: Int64 = 100  // ms between redraws

    package init(total: Int, color: Bool, width: Int = Terminal.columns(1)) {
        state = Mutex(State(total: total))
        self.color = color
        self.width = max(40, width)
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
    }

    /// The total may be known only after the run's first answer (a client following a server).
    package func setTotal(_ total: Int) { state.withLock { $0.total = max($0.total, total) } }

    package func receive(_ event: RunEvent) {
        guard let id = event.phaseId else { return }
        var failure: String?
        state.withLock { state in
            switch event.kind {
            case .attemptStarted:
                if !state.running.contains(id) { state.running.append(id) }
            case .retryScheduled:
                state.running.removeAll { $0 == id }
            case .phaseFinished:
                state.running.removeAll { $0 == id }
                let status = event.details["status"]?.stringValue.flatMap(PhaseStatus.init(rawValue:)) ?? .failed
                state.finished[id] = status
                if status != .succeeded { failure = "\(Terminal.paint("✗", "31", color)) \(Terminal.pad(id, 24)) \(Terminal.pad(status.rawValue, 10)) \(event.message)" }
            case .phaseSkipped:
                state.finished[id] = .skipped
            default:
                return
            }
            draw(&state, above: failure, force: failure != nil)
        }
    }

    /// The last line, left on screen, and a newline: what follows prints below it.
    package func finish() {
        timer.cancel()
        state.withLock { state in
            guard !state.closed else { return }
            draw(&state, above: nil, force: true)
            state.closed = true
            StandardOutput.write("\n")
        }
    }

    private func tick() {
        state.withLock { state in draw(&state, above: nil, force: false) }
    }

    private func draw(_ state: inout State, above: String?, force: Bool) {
        guard !state.closed else { return }
        let now = Timestamp.now().milliseconds(since: started)
        guard force || !state.drawn || now - state.lastDraw >= Self.interval else { return }
        state.lastDraw = now
        state.drawn = true
        var text = "\r\u{1B}[K"
        if let above { text += above + "\n" }
        text += line(state, elapsedMs: now)
        StandardOutput.write(text)
    }

    /// `[#######.............] 120/500  ✓ 110 ✗ 2 - 8  ▸ 4: a, b, c  12.3s`, cut to the width.
    private func line(_ state: State, elapsedMs: Int64) -> String {
        let done = state.finished.count
        let total = max(state.total, done)
        var succeeded = 0, failed = 0, skipped = 0
        for status in state.finished.values {
            switch status {
            case .succeeded: succeeded += 1
            case .skipped: skipped += 1
            default: failed += 1
            }
        }
        let cells = 20
        let filled = total == 0 ? cells : min(cells, done * cells / total)
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "]"
        let elapsed = Terminal.seconds(elapsedMs)
        var text = "\(bar) \(done)/\(total)  ✓ \(succeeded) ✗ \(failed) - \(skipped)  ▸ \(state.running.count) running"
        let tail = "  " + elapsed
        if !state.running.isEmpty {
            var names = ": "
            for (index, id) in state.running.enumerated() {
                let next = (index == 0 ? "" : ", ") + id
                if text.count + names.count + next.count + tail.count + 2 > width {
                    names += index == 0 ? "…" : ", …"
                    break
                }
                names += next
            }
            text += names
        }
        text += tail
        return text.count > width ? String(text.prefix(width - 1)) + "…" : text
    }
}

/// How a run's progress is shown on text output (`--progress`, else `$PLANTER_PROGRESS`).
package enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// A line per phase, or the bar when standard output is a terminal and the plan is longer than its height.
    case auto
    case lines
    case bar
    case none

    package static func resolve(_ option: ProgressMode?, quiet: Bool, environment: [String: String]) -> ProgressMode {
        if quiet { return .none }
        return option ?? environment["PLANTER_PROGRESS"].flatMap(ProgressMode.init(rawValue:)) ?? .auto
    }

    /// The sink that shows a run of `phases` phases: nil for `none`.
    package func sink(phases: Int, logThreshold: LogLevel = .warning) -> (any EventSink)? {
        let color = Terminal.isTerminal(1)
        switch self {
        case .none: return nil
        case .lines: return ProgressPrinter(color: color, logThreshold: logThreshold)
        case .bar: return ProgressBar(total: phases, color: color)
        case .auto:
            return color && phases > Terminal.rows(1) - 2
                ? ProgressBar(total: phases, color: color) : ProgressPrinter(color: color, logThreshold: logThreshold)
        }
    }
}
