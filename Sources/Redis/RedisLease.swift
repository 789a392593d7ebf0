import PlanterCore

/// The lease on a namespace: only its holder runs the namespace's plans. The key
/// (`planter:{<ns>}:lease`, `<owner> <token>`) has a TTL the holder renews every quarter TTL;
/// taking a free lease increments the fencing token (`…:fence`), which every history write of
/// the holder carries and the write script checks, so a holder that lost the lease cannot
/// write over its successor. `mayStartPhases` turns false half a TTL after the last renewal
/// that was *sent* (not answered), so a holder cut off from Redis stops starting phases well
/// before anyone else can take over.
public final class RedisLease: @unchecked Sendable {
    public let keys: RedisKeys
    public let owner: String
    public let ttl: Duration
    private let monitor = Monitor()
    private let wake: Condition
    private var heldToken: Int64?
    private var validUntil: Int64 = 0
    private var closed = false
    private var ended = false
    private var lastError: String?
    /// What onChange was last told.
    private var reported: Int64?
    private let onChange: @Sendable (Int64?) -> Void

    static let script = """
        local value = redis.call('GET', KEYS[1])
        if not value then
          local token = redis.call('INCR', KEYS[2])
          redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
          return token
        end
        local space = string.find(value, ' ', 1, true)
        if space and string.sub(value, 1, space - 1) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return tonumber(string.sub(value, space + 1))
        end
        return false
        """

    static let releaseScript = """
        local value = redis.call('GET', KEYS[1])
        if value and value == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """

    /// Starts trying to take (then renew) the lease on a thread of its own; `onChange` gets the
    /// token when taken and nil when lost.
    public init(url: RedisURL, namespace: String, owner: String, ttl: Duration = .seconds(10),
                onChange: @escaping @Sendable (Int64?) -> Void = { _ in }) {
        keys = RedisKeys(namespace: namespace)
        self.owner = owner
        self.ttl = ttl
        self.onChange = onChange
        wake = Condition(monitor)
        let connection = RedisConnection(url: url, connectTimeout: .milliseconds(500), commandTimeout: min(ttl / 4, .seconds(2)))
        let box = Box(connection)
        startThread(name: "planter-redis-lease") { [self] in serve(box) }
    }

    private final class Box: @unchecked Sendable {
        let connection: RedisConnection
        init(_ connection: RedisConnection) { self.connection = connection }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The fencing token while the lease is held (and not about to lapse).
    public var token: Int64? {
        monitor.withLock { Monitor.monotonicNow() < validUntil ? heldToken : nil }
    }

    /// Whether the holder may start a phase now: renewed within half a TTL.
    public var mayStartPhases: Bool { token != nil }

    /// Why the last renewal failed (nil while they succeed).
    public var problem: String? { monitor.withLock { lastError } }

    private func serve(_ box: Box) {
        let connection = box.connection
        let milliseconds = Self.nanoseconds(ttl) / 1_000_000
        while true {
            monitor.lock()
            if closed {
                let token = heldToken
                monitor.unlock()
                if let token {
                    _ = try? connection.command(RedisCommand("EVAL", Self.releaseScript, 1, keys.lease, "\(owner) \(token)"))
                }
                connection.disconnect()
                monitor.withLock { ended = true }
                return
            }
            monitor.unlock()
            let sent = Monitor.monotonicNow()
            var outcome: Int64?
            var failure: String?
            do {
                let reply = try connection.command(RedisCommand("EVAL", Self.script, 2, keys.lease, keys.fence, owner, Int(milliseconds)))
                    .checked("EVAL lease")
                outcome = reply.integer
            } catch {
                failure = error.description
            }
            monitor.lock()
            lastError = failure
            if failure == nil {
                heldToken = outcome
                validUntil = outcome == nil ? 0 : sent + Self.nanoseconds(ttl) / 2
            }
            let after = Monitor.monotonicNow() < validUntil ? heldToken : nil
            let changed = after != reported
            reported = after
            monitor.unlock()
            if changed { onChange(after) }
            monitor.withLock {
                // The holder renews every quarter TTL; a standby asks at least every second, so a
                // released lease is taken within a second.
                let pause = heldToken == nil ? min(Self.nanoseconds(ttl) / 4, 1_000_000_000) : Self.nanoseconds(ttl) / 4
                if !closed { wake.wait(untilMonotonic: Monitor.monotonicNow() + pause) }
            }
        }
    }

    /// Stops renewing and gives the lease up (a successor need not wait for the TTL);
    /// `releasing: false` only stops renewing, as a crash would.
    public func close(releasing: Bool = true) {
        monitor.withLock {
            closed = true
            if !releasing { heldToken = nil }
            wake.signal()
        }
    }

    /// Gives the lease up and waits (at most 3 s) until Redis has it: for a shutdown, after
    /// which the process exits.
    public func release() async {
        close()
        let deadline = ContinuousClock.now + .seconds(3)
        while !monitor.withLock({ ended }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
    }
}
