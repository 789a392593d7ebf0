import Foundation
import PlanterRedis
import PlanterTestSupport
import Testing

/// Against a real redis-server on a free loopback port.
@Suite(.serialized) struct RedisConnectionTests {
    @Test func commandsAreBinarySafeAndRepliesDecoded() throws {
        let server = try RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL.parse(server.url()))
        let value: [UInt8] = [0, 1, 2, 13, 10, 255, 37, 115]  // NUL, CRLF and "%s": nothing is a format string
        #expect(try connection.command(RedisCommand("SET", "key\r\nwith %s", value)) == .status("OK"))
        #expect(try connection.command(RedisCommand("GET", "key\r\nwith %s")) == .string(value))
        #expect(try connection.command(RedisCommand("GET", "missing")) == .null)
        #expect(try connection.command(RedisCommand("INCRBY", "n", Int64(41))) == .integer(41))
        #expect(try connection.command(RedisCommand("RPUSH", "list", "a", "b")) == .integer(2))
        #expect(try connection.command(RedisCommand("LRANGE", "list", 0, -1)) == .array([.string(Array("a".utf8)), .string(Array("b".utf8))]))
        guard case .error(let message) = try connection.command(RedisCommand("INCR", "list")) else {
            Issue.record("INCR of a list is an error reply")
            return
        }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(throws: RedisError.self) { try connection.command(RedisCommand("NOSUCHCOMMAND")).checked("NOSUCHCOMMAND") }
        // The connection is still good after error replies.
        #expect(try connection.command(RedisCommand("PING")) == .status("PONG"))
    }

    @Test func pipelinesAnswerInOrder() throws {
        let server = try RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL.parse(server.url()))
        let commands = (0..<1000).map { _ in RedisCommand("INCR", "counter") } + [RedisCommand("GET", "counter")]
        let replies = try connection.pipeline(commands)
        #expect(replies.count == 1001)
        #expect(replies[999] == .integer(1000))
        #expect(replies[1000] == .string(Array("1000".utf8)))
        let transaction = try connection.pipeline([RedisCommand("MULTI"), RedisCommand("SET", "a", "1"), RedisCommand("INCR", "a"),
                                                   RedisCommand("EXEC")])
        #expect(transaction.last == .array([.status("OK"), .integer(2)]))
    }

    @Test func authenticatesAndSelectsTheDatabaseOfTheURL() throws {
        let server = try RedisServerProcess(password: "s3cret pass")
        let escaped = "redis://:s3cret%20pass@127.0.0.1:\(server.port)/2"
        let connection = RedisConnection(url: try RedisURL.parse(escaped))
        #expect(try connection.command(RedisCommand("SET", "where", "db2")) == .status("OK"))
        let zero = RedisConnection(url: try RedisURL.parse("redis://:s3cret%20pass@127.0.0.1:\(server.port)"))
        #expect(try zero.command(RedisCommand("GET", "where")) == .null, "db 0 does not see db 2's key")
        #expect(try zero.command(RedisCommand("SELECT", 2)) == .status("OK"))
        #expect(try zero.command(RedisCommand("GET", "where")) == .string(Array("db2".utf8)))

        let wrong = RedisConnection(url: try RedisURL.parse("redis://:nope@127.0.0.1:\(server.port)"))
        let refused = #expect(throws: RedisError.self) { try wrong.command(RedisCommand("PING")) }
        #expect(refused?.description.contains("refused the credentials") == true, "\(String(describing: refused))")
        #expect(refused?.description.contains("nope") == false, "the password is not shown")
        let none = RedisConnection(url: try RedisURL.parse(server.url().replacingOccurrences(of: ":s3cret pass@", with: "")))
        guard case .error(let message) = try none.command(RedisCommand("GET", "where")) else {
            Issue.record("without a password Redis refuses commands")
            return
        }
        #expect(message.hasPrefix("NOAUTH"))
    }

    @Test func aTimedOutConnectionIsMadeAgainWithItsTimeoutAuthAndDatabase() throws {
        let server = try RedisServerProcess(password: "pw")
        let connection = RedisConnection(url: try RedisURL.parse(server.url(database: 3)), commandTimeout: .milliseconds(300))
        #expect(try connection.command(RedisCommand("SET", "k", "v")) == .status("OK"))
        for round in 0..<2 {
            // BLPOP blocks in the server for 5 s; the client gives up after 300 ms, each time.
            let started = ContinuousClock.now
            let error = #expect(throws: RedisError.self) { try connection.command(RedisCommand("BLPOP", "empty", 5)) }
            let waited = ContinuousClock.now - started
            #expect(error?.isConnection == true)
            #expect(error?.description.contains("timed out") == true, "\(String(describing: error))")
            #expect(waited < .milliseconds(2000), "round \(round): the command timeout holds after a reconnect (\(waited))")
            #expect(!connection.isConnected, "a timed-out context is dropped")
            // The next call reconnects: password and database 3 again.
            #expect(try connection.command(RedisCommand("GET", "k")) == .string(Array("v".utf8)))
        }
        #expect(connection.generation == 3)
    }

    @Test func reconnectsAfterTheServerIsKilledAndRestarted() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(url: try RedisURL.parse(server.url()), name: "test-redis", connectTimeout: .milliseconds(500),
                                 commandTimeout: .seconds(1))
        defer { client.close() }
        #expect(try await client.command(RedisCommand("SET", "k", "before")) == .status("OK"))
        server.stop()
        let lost = await #expect(throws: RedisError.self) { try await client.command(RedisCommand("GET", "k")) }
        #expect(lost?.isConnection == true)
        let refused = await #expect(throws: RedisError.self) { try await client.command(RedisCommand("GET", "k")) }
        #expect(refused?.description.contains("cannot connect") == true, "\(String(describing: refused))")
        try server.restart()
        // Nothing was saved: the key is gone, and the client works again without being remade.
        #expect(try await client.command(RedisCommand("GET", "k")) == .null)
        #expect(try await client.command(RedisCommand("SET", "k", "after")) == .status("OK"))
    }

    @Test func aRefusedConnectionSaysWhere() throws {
        let connection = RedisConnection(url: RedisURL(host: "127.0.0.1", port: 1), connectTimeout: .milliseconds(200))
        let error = #expect(throws: RedisError.self) { try connection.command(RedisCommand("PING")) }
        #expect(error?.description.contains("127.0.0.1:1") == true, "\(String(describing: error))")
    }
}
