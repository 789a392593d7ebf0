import PlanterCore

/// A RedisConnection behind a thread of its own: `perform` queues a body that runs there (in
/// order) and resumes the caller with its result, so hiredis's blocking calls never hold the
/// Swift concurrency pool or an event loop. At most `queueLimit` bodies wait; beyond that
/// `perform` fails at once rather than piling up work for a Redis that does not answer.
public final class RedisClient: @unchecked Sendable {
    public let url: RedisURL
    public let name: String
    private let monitor = Monitor()
    private let ready: Condition
    private var jobs: [(RedisConnection) -> Void] = []
    private var closed = false
    static let queueLimit = 10_000

    /// Starts the thread; nothing connects until the first call.
    public init(url: RedisURL, name: String, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
                onConnect: (@Sendable (RedisConnection) throws(RedisError) -> Void)? = nil) {
        self.url = url
        self.name = name
        ready = Condition(monitor)
        let box = ConnectionBox(RedisConnection(url: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout))
        box.connection.onConnect = onConnect
        startThread(name: name) { [self] in serve(box) }
    }

    /// Moves the connection onto the thread once; only that thread touches it afterwards.
    private final class ConnectionBox: @unchecked Sendable {
        let connection: RedisConnection
        init(_ connection: RedisConnection) { self.connection = connection }
    }

    private func serve(_ box: ConnectionBox) {
        while true {
            monitor.lock()
            while jobs.isEmpty && !closed { ready.wait() }
            if jobs.isEmpty && closed {
                monitor.unlock()
                box.connection.disconnect()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            monitor.unlock()
            for job in batch { job(box.connection) }
        }
    }

    /// Runs `body` with the connection on the client's thread.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T) async throws(RedisError) -> T {
        let result: Result<T, RedisError> = await withCheckedContinuation { continuation in
            monitor.lock()
            guard !closed, jobs.count < Self.queueLimit else {
                let why = closed ? "the Redis client \(name) is closed" : "\(Self.queueLimit) Redis calls are waiting already"
                monitor.unlock()
                continuation.resume(returning: .failure(.connection(why)))
                return
            }
            jobs.append { connection in
                do throws(RedisError) { continuation.resume(returning: .success(try body(connection))) }
                catch { continuation.resume(returning: .failure(error)) }
            }
            ready.signal()
            monitor.unlock()
        }
        return try result.get()
    }

    public func command(_ command: RedisCommand) async throws(RedisError) -> RedisReply {
        try await perform { connection throws(RedisError) in try connection.command(command) }
    }

    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        try await perform { connection throws(RedisError) in try connection.pipeline(commands) }
    }

    /// Lets queued calls finish, then disconnects and ends the thread.
    public func close() {
        monitor.withLock {
            closed = true
            ready.signal()
        }
    }
}
