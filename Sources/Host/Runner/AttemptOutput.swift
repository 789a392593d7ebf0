import PlanterCore
import PlanterJSON
import Synchronization

/// Output of one attempt, fed from executor threads while the attempt runs.
final class AttemptOutput: Sendable {
    private let tail: Mutex<OutputTail>
    private let previous: OutputTail.Snapshot
    private let sinks: [any EventSink]
    private let runId: String
    private let phaseId: String
    private let attempt: Int

    init(tail: OutputTail, previous: OutputTail.Snapshot, sinks: [any EventSink], runId: String, phaseId: String, attempt: Int) {
        self.tail = Mutex(tail)
        self.previous = previous
        self.sinks = sinks
        self.runId = runId
        self.phaseId = phaseId
        self.attempt = attempt
    }

    func append(_ stream: OutputChannel, _ bytes: UnsafeRawBufferPointer) {
        let text = tail.withLock { $0.append(bytes) }
        publish(text, stream)
    }

    func appendText(_ text: String) {
        var text = text
        text.withUTF8 { buffer in append(.stdout, UnsafeRawBufferPointer(buffer)) }
    }

    private func publish(_ text: String?, _ stream: OutputChannel) {
        guard let text, !text.isEmpty, !sinks.isEmpty else { return }
        let event = RunEvent(runId: runId, phaseId: phaseId, attempt: attempt, kind: .output, message: text,
                             details: ["stream": stream == .stdout ? "stdout" : "stderr"])
        for sink in sinks { sink.receive(event) }
    }

    /// The attempt ended: flush what was held back and return the phase's output so far
    /// (earlier attempts' output is kept in front, within the same bound).
    func finish() -> OutputTail.Snapshot {
        let (pending, snapshot, limit) = tail.withLock { tail in (tail.flushPending(), tail.snapshot, tail.limit) }
        publish(pending, .stdout)
        guard previous.totalBytes > 0 else { return snapshot }
        return Self.combine(previous, snapshot, limit: limit)
    }

    /// Earlier attempts' tail in front of this one's, cut to `limit` bytes from the front (never
    /// inside a UTF-8 sequence): the bound holds however many attempts there were.
    static func combine(_ earlier: OutputTail.Snapshot, _ latest: OutputTail.Snapshot, limit: Int) -> OutputTail.Snapshot {
        var combined = OutputTail.Snapshot()
        combined.totalBytes = earlier.totalBytes + latest.totalBytes
        combined.droppedBytes = earlier.droppedBytes + latest.droppedBytes
        var bytes = Array(earlier.text.utf8)
        bytes.append(contentsOf: latest.text.utf8)
        var cut = max(0, bytes.count - max(0, limit))
        while cut < bytes.count, bytes[cut] & 0xC0 == 0x80 { cut += 1 }
        combined.droppedBytes += cut
        combined.text = String(decoding: bytes[cut...], as: UTF8.self)
        return combined
    }
}
