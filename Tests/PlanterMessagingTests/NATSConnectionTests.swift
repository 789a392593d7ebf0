import Foundation
import PlanterMessaging
import PlanterTestSupport
import Synchronization
import Testing

/// The NATS client against a real nats-server on a free loopback port.
@Suite(.serialized) struct NATSConnectionTests {
    let directory: TempDir

    init() throws { directory = try TempDir() }

    func server() throws -> TestDaemon { try TestDaemon.nats(directory: directory.path) }

    func connect(_ url: String, events: @escaping @Sendable (NATSConnection.Event) -> Void = { _ in }) throws -> NATSConnection {
        let servers = try NATSSettings.parseServers(url).get()
        return try NATSConnection.connect(NATSSettings(servers: servers, name: "planter-test"), events: events)
    }

    @Test func settingsRefuseWhatCannotBeAServer() {
        #expect((try? NATSSettings.parseServers("nats://127.0.0.1:4222, nats://a:b@host").get()) == ["nats://127.0.0.1:4222", "nats://a:b@host"])
        for (bad, says) in [("http://x:4222", "must start with nats://"), ("nats://x:0", "not in 1…65535"), ("nats://x:99999", "not in 1…65535"),
                            ("nats://:4222", "no host"), ("nats://h:4222,", "empty"), ("nats://h/sub", "has a path")] {
            guard case .failure(let error) = NATSSettings.parseServers(bad) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(error.description.contains(says), "\(bad): \(error)")
        }
    }

    @Test func publishReachesSubscriberWithHeaders() async throws {
        let nats = try server()
        let connection = try connect(nats.natsURL)
        defer { connection.close() }
        let received = Mutex<[NATSMessage]>([])
        _ = try connection.subscribe("plan.session.*.start") { message in received.withLock { $0.append(message) } }
        try await connection.flush()
        try connection.publish("plan.session.s1.start", Array(#"{"manifest":[]}"#.utf8), headers: [NATSMessage.originHeader: "me"])
        try connection.publish("plan.session.s2.start", Array("plain".utf8))
        try connection.publish("plan.session.s3.other", Array("not matched".utf8))
        try await waitUntil { received.withLock { $0.count } == 2 }
        let messages = received.withLock { $0 }
        #expect(messages[0].subject == "plan.session.s1.start")
        #expect(messages[0].headers[NATSMessage.originHeader] == "me")
        #expect(String(decoding: messages[1].data, as: UTF8.self) == "plain")
        #expect(messages[1].headers.isEmpty)
    }

    @Test func requestGetsTheAnswerAndNoRespondersIsImmediate() async throws {
        let nats = try server()
        let connection = try connect(nats.natsURL)
        defer { connection.close() }
        _ = try connection.subscribe("svc.echo") { message in
            guard let reply = message.reply else { return }
            try? connection.publish(reply, message.data.reversed())
        }
        try await connection.flush()
        let answer = try await connection.request("svc.echo", Array("abc".utf8), timeoutMs: 2000)
        #expect(String(decoding: answer.data, as: UTF8.self) == "cba")
        let started = Date()
        do {
            _ = try await connection.request("svc.nobody", [], timeoutMs: 5000)
            Issue.record("a request nobody serves was answered")
        } catch {
            #expect(error.isNoResponders, "\(error)")
            #expect(Date().timeIntervalSince(started) < 2)
        }
    }

    @Test func reconnectsAfterTheServerRestartsAndKeepsSubscriptions() async throws {
        let nats = try server()
        let events = Mutex<[String]>([])
        let connection = try connect(nats.natsURL) { event in events.withLock { $0.append("\(event)") } }
        defer { connection.close() }
        let received = Mutex(0)
        _ = try connection.subscribe("after.restart") { _ in received.withLock { $0 += 1 } }
        try await connection.flush()
        nats.stop()
        try await waitUntil { !connection.isConnected }
        try nats.start()
        try await waitUntil(seconds: 15) { connection.isConnected }
        try connection.publish("after.restart", [1])
        try await waitUntil { received.withLock { $0 } == 1 }
        #expect(events.withLock { $0 }.contains("disconnected"))
        #expect(events.withLock { $0 }.contains("reconnected"))
    }

    /// NATS's own auth through the URL (`nats://user:password@host`). A `.creds` file (NATS_CREDS)
    /// needs `nsc` to be made, which is not installed here: that path is not tested.
    @Test func theURLsUserAndPasswordAreWhatTheServerChecks() async throws {
        let nats = try TestDaemon.nats(directory: directory.path + "/auth", auth: ("planter", "s3cret"))
        let connection = try connect("nats://planter:s3cret@127.0.0.1:\(nats.port)")
        defer { connection.close() }
        #expect(connection.isConnected)
        let received = Mutex(0)
        _ = try connection.subscribe("authed") { _ in received.withLock { $0 += 1 } }
        try await connection.flush()
        try connection.publish("authed", [1])
        try await waitUntil { received.withLock { $0 } == 1 }
        for url in ["nats://planter:wrong@127.0.0.1:\(nats.port)", nats.natsURL] {
            let refused = try? connect(url)
            defer { refused?.close() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(refused?.isConnected != true, "\(url) was let in")
        }
    }

    @Test func aServerDownAtStartIsRetriedInTheBackground() async throws {
        let port = try TestDaemon.freePort()
        let connection = try connect("nats://127.0.0.1:\(port)")
        defer { connection.close() }
        #expect(!connection.isConnected)
        // Buffered while nothing is there.
        try connection.publish("early", [1])
    }
}

func waitUntil(seconds: Double = 5, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { throw TestDaemon.Failure(description: "condition not met within \(seconds)s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
