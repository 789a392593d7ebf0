import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// One blocking hiredis connection, used by one thread only (hiredis contexts are not
/// thread-safe; RedisClient owns the thread). It connects on first use and again after any
/// failure: a timed-out or broken hiredis context is dead for good (a late reply would
/// desynchronize it), so it is freed and the next call makes a new one, applying the command
/// timeout, AUTH and SELECT again (redisReconnect keeps none of them). A failed call is not
/// retried here: a write may or may not have reached Redis, the caller decides.
public final class RedisConnection {
    public let url: RedisURL
    public let connectTimeout: Duration
    public let commandTimeout: Duration
    /// Run after each (re)connect, before any command (loading scripts, say).
    public var onConnect: ((RedisConnection) throws(RedisError) -> Void)?
    private var context: UnsafeMutablePointer<redisContext>?
    /// Incremented by each successful connect: callers notice a reconnect by it.
    public private(set) var generation = 0

    /// Replies beyond these are refused (decoding stops), so a huge or hostile reply cannot take
    /// the memory of the process with it twice over. hiredis itself nests at most 7 deep.
    static let maximumReplyBytes = 256 << 20
    static let maximumReplyElements = 4_000_000
    /// At most this many commands in one pipeline (bounds what a lost connection loses).
    public static let maximumPipeline = 10_000

    private static let ignoreSIGPIPE: Void = {
        // hiredis writes with write(2), without MSG_NOSIGNAL: a closed socket would kill the process.
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    public init(url: RedisURL, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)) {
        _ = Self.ignoreSIGPIPE
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    deinit { disconnect() }

    public var isConnected: Bool { context != nil }

    public func disconnect() {
        if let context { redisFree(context) }
        context = nil
    }

    static func timeValue(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        let clamped = max(0, min(seconds, 86_400))
        return Glibc.timeval(tv_sec: Int(clamped), tv_usec: seconds < 0 ? 0 : Int(attoseconds / 1_000_000_000_000))
    }

    /// Connects (if not connected): connect timeout, command timeout, AUTH, SELECT, `onConnect`.
    public func connect() throws(RedisError) {
        guard context == nil else { return }
        guard let made = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeValue(connectTimeout)) else {
            throw .connection("cannot allocate a hiredis context for \(url)")
        }
        if made.pointee.err != 0 {
            let message = Self.errorText(made)
            redisFree(made)
            throw .connection("cannot connect to \(url): \(message)")
        }
        guard redisSetTimeout(made, Self.timeValue(commandTimeout)) == REDIS_OK else {
            let message = Self.errorText(made)
            redisFree(made)
            throw .connection("cannot set the command timeout on \(url): \(message)")
        }
        context = made
        do throws(RedisError) {
            if let password = url.password {
                let auth = url.user.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
                if case .error(let message) = try command(auth) {
                    throw RedisError.setup("Redis at \(url) refused the credentials in REDIS_URL: \(message)")
                }
            }
            if url.database != 0, case .error(let message) = try command(RedisCommand("SELECT", url.database)) {
                throw RedisError.setup("Redis at \(url) refused database \(url.database) of REDIS_URL: \(message)")
            }
            generation += 1
            try onConnect?(self)
        } catch {
            disconnect()
            throw error
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch context.pointee.err {
        case REDIS_ERR_IO where text.contains("temporarily unavailable"): return "timed out (\(text))"
        case REDIS_ERR_EOF: return "the server closed the connection"
        default: return text.isEmpty ? "error \(context.pointee.err)" : text
        }
    }

    /// The context's error, after which it is freed: the next call connects again.
    private func failure(_ what: String) -> RedisError {
        let message = context.map(Self.errorText) ?? "not connected"
        disconnect()
        return .connection("\(what) on \(url): \(message)")
    }

    /// Sends one command and waits for its reply (within the command timeout).
    public func command(_ command: RedisCommand) throws(RedisError) -> RedisReply {
        try connect()
        guard let context else { throw .connection("not connected to \(url)") }
        let raw = try Self.withArgv(command) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        guard let raw else { throw failure(command.name) }
        defer { freeReplyObject(raw) }
        return try decode(raw, command.name)
    }

    /// Sends the commands in one write and reads their replies, in order (one round trip).
    /// A connection lost midway loses the replies (and maybe the effects) of the rest.
    public func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        guard commands.count <= Self.maximumPipeline else {
            throw .tooLarge("a pipeline of \(commands.count) commands is more than \(Self.maximumPipeline)")
        }
        try connect()
        guard let context else { throw .connection("not connected to \(url)") }
        for command in commands {
            let appended = try Self.withArgv(command) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard appended == REDIS_OK else { throw failure(command.name) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(command.name) }
            defer { freeReplyObject(raw) }
            replies.append(try decode(raw, command.name))
        }
        return replies
    }

    /// Hands hiredis stable pointers to every argument and its length.
    private static func withArgv<T>(_ command: RedisCommand,
                                    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T)
        throws(RedisError) -> T
    {
        let arguments = command.arguments
        guard arguments.count <= 1 << 20, let argc = Int32(exactly: arguments.count) else {
            throw .tooLarge("\(command.name) has \(arguments.count) arguments, more than 1048576")
        }
        let total = arguments.reduce(0) { $0 + $1.count }
        guard total <= 512 << 20 else { throw .tooLarge("\(command.name) carries \(total) bytes, more than Redis takes (512 MiB)") }
        var flat: [UInt8] = []
        flat.reserveCapacity(total + 1)
        var offsets: [Int] = []
        offsets.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(flat.count)
            flat += argument
        }
        flat.append(0)
        let lengths = arguments.map(\.count)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { body(argc, argvBuffer.baseAddress!, $0.baseAddress!) }
            }
        }
    }

    /// Copies a hiredis reply into a RedisReply, within the size bounds.
    private func decode(_ raw: UnsafeMutableRawPointer, _ name: String) throws(RedisError) -> RedisReply {
        var budget = (bytes: Self.maximumReplyBytes, elements: Self.maximumReplyElements)
        do {
            return try Self.decode(raw.assumingMemoryBound(to: redisReply.self), &budget, depth: 0)
        } catch {
            // The rest of a refused reply was read already: the connection stays usable.
            throw .tooLarge("the reply to \(name) is larger than \(Self.maximumReplyBytes >> 20) MiB or "
                + "\(Self.maximumReplyElements) elements, or nested deeper than 8: \(error)")
        }
    }

    private struct Overflow: Error {
        let what: String
    }

    private static func decode(_ reply: UnsafeMutablePointer<redisReply>, _ budget: inout (bytes: Int, elements: Int), depth: Int)
        throws(Overflow) -> RedisReply
    {
        guard depth <= 8 else { throw Overflow(what: "depth") }
        let value = reply.pointee
        func text() throws(Overflow) -> [UInt8] {
            guard value.len <= budget.bytes else { throw Overflow(what: "bytes") }
            budget.bytes -= value.len
            guard let pointer = value.str, value.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: value.len))
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .string(try text())
        case REDIS_REPLY_STATUS: return .status(String(decoding: try text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: try text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(value.integer)
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard value.elements <= budget.elements else { throw Overflow(what: "elements") }
            budget.elements -= value.elements
            var elements: [RedisReply] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                guard let element = value.element[index] else {
                    elements.append(.null)
                    continue
                }
                elements.append(try decode(element, &budget, depth: depth + 1))
            }
            return .array(elements)
        default:
            return .error("unknown reply type \(value.type)")
        }
    }
}
