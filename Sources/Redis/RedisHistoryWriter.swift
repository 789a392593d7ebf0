import PlanterCore
import PlanterStore

/// Copies history writes into Redis from a thread of its own: everything queued while the last
/// pipeline ran goes out in the next (one round trip per batch). While Redis is unreachable the
/// writes wait in a bounded buffer and the thread retries with backoff (100 ms doubling to 5 s);
/// a batch that may have half-reached Redis is resent whole, and the script skips what was
/// applied already (the writer's number per write). Past `bufferLimit` the oldest writes are
/// dropped (counted in `problem`): the embedded store still has them.
final class RedisHistoryWriter: @unchecked Sendable {
    struct Entry {
        let number: Int64
        let write: RedisHistoryScript.Write
    }

    let keys: RedisKeys
    let writerId: String
    let eventCap: Int
    static let bufferLimit = 200_000
    static let batchLimit = 2_000

    private let monitor = Monitor()
    private let ready: Condition
    private var buffer: [Entry] = []
    private var head = 0
    private var nextNumber: Int64 = 1
    /// The number of the last state document queued (0: none).
    private var lastState: Int64 = 0
    private var closed = false
    private var dropped = 0
    private var failure: String?
    private var refused: String?
    /// The highest write number known to be in Redis.
    private var written: Int64 = 0
    /// The fencing token sent with every write (empty: no coordination).
    private var fenceToken = ""
    private var fenced = false
    private var finished = false
    private let connection: RedisConnection
    private var sha: [UInt8] = []

    init(url: RedisURL, keys: RedisKeys, writerId: String, eventCap: Int) {
        self.keys = keys
        self.writerId = writerId
        self.eventCap = eventCap
        ready = Condition(monitor)
        connection = RedisConnection(url: url, connectTimeout: .seconds(1), commandTimeout: .seconds(5))
        connection.onConnect = { [unowned self] connection throws(RedisError) in
            guard let sha = try connection.command(RedisCommand("SCRIPT", "LOAD", RedisHistoryScript.source)).checked("SCRIPT LOAD").bytes
            else { throw .reply(command: "SCRIPT LOAD", message: "no digest in the reply") }
            self.sha = sha
            _ = try connection.command(RedisCommand("SET", keys.schema, RedisHistoryScript.layoutVersion)).checked("SET schema")
        }
        startThread(name: "planter-redis-writer") { [self] in serve() }
    }

    func enqueue(_ write: RedisHistoryScript.Write) {
        monitor.withLock {
            guard !closed else { return }
            if buffer.count - head >= Self.bufferLimit {
                head += 1
                dropped += 1
            }
            if case .state = write { lastState = nextNumber }
            buffer.append(Entry(number: nextNumber, write: write))
            nextNumber += 1
            if buffer.count - head == 1 { ready.signal() }
        }
    }

    /// The number of the last write queued.
    var lastQueued: Int64 { monitor.withLock { nextNumber - 1 } }
    var lastWritten: Int64 { monitor.withLock { written } }
    /// Every state document queued is in Redis (and was not refused for its fencing token).
    var stateIsWritten: Bool { monitor.withLock { written >= lastState && !fenced } }

    var problem: String? {
        monitor.withLock {
            var parts: [String] = []
            if let failure { parts.append(failure) }
            if fenced { parts.append("this Planter's lease was taken over: its writes are refused") }
            if let refused { parts.append("Redis refused a history write: \(refused)") }
            if dropped > 0 { parts.append("\(dropped) history writes did not fit the buffer while Redis was away; the embedded store has them") }
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        }
    }

    /// Whether Redis took the last batch (false while it is unreachable).
    var isUp: Bool { monitor.withLock { failure == nil } }

    func setFence(_ token: String) { monitor.withLock { fenceToken = token; fenced = false } }

    func close() {
        monitor.withLock {
            closed = true
            ready.signal()
        }
    }

    /// Whether the thread has ended (closed and drained, or closed while Redis was away).
    var isFinished: Bool { monitor.withLock { finished } }

    private func serve() {
        var backoff = Duration.milliseconds(100)
        while true {
            monitor.lock()
            while buffer.count == head && !closed {
                // Idle: a PING a second keeps `problem` (and /ready) true to Redis's state.
                ready.wait(untilMonotonic: Monitor.monotonicNow() + 1_000_000_000)
                if buffer.count == head && !closed {
                    monitor.unlock()
                    let outcome: String?
                    do {
                        _ = try connection.command(RedisCommand("PING")).checked("PING")
                        outcome = nil
                    } catch {
                        outcome = error.description
                    }
                    monitor.lock()
                    failure = outcome
                }
            }
            if buffer.count == head || (closed && failure != nil) {
                finished = true
                monitor.unlock()
                connection.disconnect()
                return
            }
            let batch = Array(buffer[head..<min(buffer.count, head + Self.batchLimit)])
            let fence = fenceToken
            monitor.unlock()
            do {
                try connection.connect()
                let commands = batch.map {
                    RedisHistoryScript.command($0.write, number: $0.number, sha: sha, keys: keys, writerId: writerId, fence: fence,
                                               eventCap: eventCap)
                }
                let replies = try connection.pipeline(commands)
                if replies.contains(where: { if case .error(let message) = $0 { message.hasPrefix("NOSCRIPT") } else { false } }) {
                    // The scripts were flushed under us: load again and resend (applied ones are skipped).
                    connection.disconnect()
                    continue
                }
                let errors = replies.compactMap { if case .error(let message) = $0 { message } else { nil } }
                monitor.withLock {
                    failure = nil
                    if errors.contains(where: { $0.hasPrefix("FENCED") }) { fenced = true }
                    if let other = errors.first(where: { !$0.hasPrefix("FENCED") }) { refused = other }
                    written = batch.last!.number
                    while head < buffer.count, buffer[head].number <= written { head += 1 }
                    if head > 4096 && head * 2 > buffer.count {
                        buffer.removeFirst(head)
                        head = 0
                    }
                }
                backoff = .milliseconds(100)
            } catch {
                monitor.lock()
                failure = error.description
                let deadline = Monitor.monotonicNow() + Int64(backoff.components.seconds) * 1_000_000_000
                    + Int64(backoff.components.attoseconds / 1_000_000_000)
                if !closed { ready.wait(untilMonotonic: deadline) }
                monitor.unlock()
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
