import PlanterJSON
import Synchronization

/// Output of one attempt, fed from executor threads while the attempt runs.
final class AttemptOutput: Sendable {
    private let tail: Mutex<OutputTail>
    private let previous: OutputTail.Snapshot
    /// The tail's bound, which also holds for earlier attempts' output put in front.
    private let limit: Int
    private let sinks: [any EventSink]
    private let runId: String
    private let phaseId: String
    private let attempt: Int

    init(tail: OutputTail, previous: OutputTail.Snapshot, sinks: [any EventSink], runId: String, phaseId: String, attempt: Int) {
        limit = tail.limit
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
        let (pending, snapshot) = tail.withLock { tail in (tail.flushPending(), tail.snapshot) }
        publish(pending, .stdout)
        guard previous.totalBytes > 0 else { return snapshot }
        var combined = previous
        combined.text += snapshot.text
        combined.totalBytes += snapshot.totalBytes
        combined.droppedBytes += snapshot.droppedBytes
        // The bound is on the phase's output, not each attempt's: the oldest bytes (earlier
        // attempts' first) fall out, and the tail never starts inside a UTF-8 sequence.
        if combined.text.utf8.count > limit {
            var bytes = Array(combined.text.utf8)
            var cut = bytes.count - limit
            while cut < bytes.count, bytes[cut] & 0xC0 == 0x80 { cut += 1 }
            bytes.removeFirst(cut)
            combined.droppedBytes += cut
            combined.text = String(decoding: bytes, as: UTF8.self)
        }
        return combined
    }
}
