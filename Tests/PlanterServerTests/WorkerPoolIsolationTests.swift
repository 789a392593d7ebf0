import Foundation
import PlanterJSON
import PlanterMessaging
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Worker pools, continued: namespaces each with their own queue, JetStream's MAX_DELIVERIES
/// advisory, the version handshake, secrets masked on the worker, and NATS's own auth. The same
/// real nats-server, `planter serve` and `planter worker` processes as WorkerPoolTests.
@Suite(.serialized) struct WorkerPoolIsolationTests {
    let pools = WorkerPoolTests()

    @Test func eachNamespaceHasItsOwnQueueAndItsWorkersTakeOnlyItsWork() async throws {
        try await pools.withPool(workers: ["wa", "wb"], arguments: ["wa": ["--namespace", "team-a"], "wb": ["--namespace", "team-b"]]) { setup in
            let workers = try await setup.server.json("/workers")["workers"]?.arrayValue ?? []
            #expect(Set(workers.compactMap { worker in worker["id"]?.stringValue.map { "\($0)@\(worker["namespace"]?.stringValue ?? "?")" } })
                    == ["wa@team-a", "wb@team-b"], "\(workers)")
            // Both pools are called builders: only the namespace tells them apart.
            func plan(_ marks: String) -> String {
                manifest((1...4).map { pools.buildPhase("p\($0)", "sleep 0.3; echo $PLANTER_WORKER_ID >> \(setup.harness.path(marks))") })
            }
            async let a = setup.server.post("/namespaces/team-a/plan?wait=true", plan("marks-a"))
            async let b = setup.server.post("/namespaces/team-b/plan?wait=true", plan("marks-b"))
            let (answerA, answerB) = try await (a, b)
            #expect(try answerA.json()["result"]?["status"] == "succeeded", "\(answerA) \(setup.workers.map(\.log))")
            #expect(try answerB.json()["result"]?["status"] == "succeeded", "\(answerB)")
            #expect(setup.harness.lines("marks-a") == ["wa", "wa", "wa", "wa"])
            #expect(setup.harness.lines("marks-b") == ["wb", "wb", "wb", "wb"])
            // The default namespace has no worker: its phase waits, then fails naming the pool; neither worker takes it.
            let orphan = try await setup.server.post("/plan?wait=true", manifest(pools.buildPhase("orphan", "echo taken >> \(setup.harness.path("marks-d"))",
                                                                                                  extra: #", "x-scheduleTimeout": "1500ms""#)))
            let phase = try orphan.json()["result"]?["phases"]?.arrayValue?.first
            #expect(phase?["message"]?.stringValue?.contains("no worker of pool builders took phase orphan within 1500 ms") == true, "\(phase ?? .null)")
            #expect(setup.harness.lines("marks-d").isEmpty)
        }
    }

    @Test func thePrefixSeparatesTheQueuesOfPlantersThatShareANATSServer() async throws {
        try await pools.withPool(workers: ["w1"], arguments: ["w1": ["--nats-prefix", "acme"]], environment: ["PLANTER_NATS_PREFIX": "acme."]) { setup in
            // A worker without the prefix serves another deployment's queue of the same names.
            let plain = try WorkerPoolTests.Worker(id: "plain", nats: setup.nats.natsURL, pool: "builders", config: setup.harness.path("worker.yaml"),
                                                   directory: setup.harness.directory)
            defer { plain.kill() }
            #expect(await eventually(within: 10) { plain.log.contains("serving pool builders of namespace default") })
            let marks = setup.harness.path("marks")
            let answer = try await setup.server.post("/plan?wait=true", manifest((1...3).map {
                pools.buildPhase("p\($0)", "sleep 0.3; echo $PLANTER_WORKER_ID >> \(marks)")
            }))
            #expect(try answer.json()["result"]?["status"] == "succeeded", "\(answer) \(setup.workers.map(\.log))")
            #expect(setup.harness.lines("marks") == ["w1", "w1", "w1"], "\(plain.log)")
        }
    }

    /// A worker that takes the item and never says so (its `started` lost, or it died right after
    /// the fetch): the attempt fails after the lease, not after the schedule timeout.
    @Test func anItemThatRanOutOfDeliveriesFailsItsAttemptNamingThePool() async throws {
        try await pools.withPool(workers: [], remote: "{pool: builders, scheduleTimeout: 60s, lease: 2s}") { setup in
            let connection = try NATSConnection.connect(NATSSettings(servers: [setup.nats.natsURL], name: "silent worker"))
            defer { connection.close() }
            let jetStream = try JetStream(connection)
            let taken = Mutex<[JetStreamMessage]>([])
            let stop = Atomic<Bool>(false)
            // Binds the pool's consumer once Planter made it; holds what it fetches, never acks, goes on fetching.
            let thread = Thread {
                var subscription: PullSubscription?
                while !stop.load(ordering: .relaxed) {
                    if subscription == nil {
                        subscription = try? jetStream.pullSubscription(stream: "PLANTER_WORK_default", consumer: "builders",
                                                                       subject: "planter.default.work.builders")
                        if subscription == nil { usleep(100_000); continue }
                    }
                    let items = (try? subscription?.fetch(batch: 1, timeoutMs: 300)) ?? []
                    taken.withLock { $0 += items }
                }
                subscription?.close()
            }
            thread.start()
            defer { stop.store(true, ordering: .relaxed) }
            let started = Date()
            let answer = try await setup.server.post("/plan?wait=true", manifest(pools.buildPhase("swallowed", "true")))
            let elapsed = Date().timeIntervalSince(started)
            let phase = try answer.json()["result"]?["phases"]?.arrayValue?.first
            #expect(taken.withLock { $0.count } == 1, "the silent worker took the item")
            #expect(phase?["status"] == "failed")
            let message = phase?["message"]?.stringValue ?? ""
            #expect(message.contains("delivered 1 time(s) to pool builders") && message.contains("MAX_DELIVERIES"), "\(phase ?? .null)")
            #expect(elapsed < 20, "failed after \(elapsed) s: the advisory ended it, not the 60 s schedule timeout")
        }
    }

    @Test func aWorkerOfAnotherProtocolVersionIsListedWithAWarningAndLogged() async throws {
        try await pools.withPool(workers: ["w1"]) { setup in
            let connection = try NATSConnection.connect(NATSSettings(servers: [setup.nats.natsURL], name: "old worker"))
            defer { connection.close() }
            // What a worker of work protocol 1 announced, where it announced it.
            let old = #"{"id": "old-1", "pool": "builders", "executors": ["build"], "capacity": 1, "inFlight": 0, "protocol": 1}"#
            #expect(await eventually(within: 10) {
                try? connection.publish("planter.workers", Array(old.utf8))
                return (try? await setup.server.json("/workers"))?["workers"]?.arrayValue?.count == 2
            })
            let listing = try await setup.server.json("/workers")
            let workers = listing["workers"]?.arrayValue ?? []
            let stale = workers.first { $0["id"] == "old-1" }
            #expect(stale?["protocol"] == 1)
            #expect(stale?["warning"]?.stringValue?.contains("speaks work protocol 1; this Planter speaks 2") == true, "\(listing)")
            #expect(workers.first { $0["id"] == "w1" }?["warning"] == nil, "a worker of this version has no warning")
            #expect(listing["protocol"] == 2)
            #expect(setup.server.log().contains("worker old-1 (pool builders) speaks work protocol 1"), "\(setup.server.log())")
        }
    }

    @Test func aSecretGrantedToARemoteExecutorIsMaskedOnTheWorkerAndInWhatPlanterStores() async throws {
        let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"
        try await pools.withPool(workers: ["w1"], serverYAML: "secrets:\n  API_TOKEN: {env: PLANTER_POOL_TEST_TOKEN}\n",
                                 buildYAML: "    secrets: [API_TOKEN]\n", environment: ["PLANTER_POOL_TEST_TOKEN": secret]) { setup in
            // Everything the worker sends back (output events, the result), as it crosses NATS.
            let connection = try NATSConnection.connect(NATSSettings(servers: [setup.nats.natsURL], name: "wiretap"))
            defer { connection.close() }
            let wire = Mutex<[String]>([])
            for subject in ["planter.*.dispatch.*", "planter.*.result.*"] {
                _ = try connection.subscribe(subject) { message in wire.withLock { $0.append(String(decoding: message.data, as: UTF8.self)) } }
            }
            try await connection.flush()
            // (Not the secret in the script: the plan is stored as written. `***` shows the value arrived: only it is masked.)
            let script = #"test -n "$API_TOKEN" || exit 9; echo "token=$API_TOKEN"; echo "err $API_TOKEN" >&2; "#
                + #"echo "{\"seen\": \"$API_TOKEN\"}" > "$PLANTER_OUTPUTS""#
            let answer = try await setup.server.post("/plan?wait=true", manifest(pools.buildPhase("uses", script)))
            let phase = try answer.json()["result"]?["phases"]?.arrayValue?.first
            #expect(phase?["status"] == "succeeded", "exit 9: the secret did not reach the worker's shell. \(answer)")
            #expect(phase?["output"]?.stringValue?.contains("token=***") == true, "\(phase ?? .null)")
            let runId = try #require(try answer.json()["result"]?["runId"]?.stringValue)
            var stored = answer.text
            stored += try await setup.server.json("/runs/\(runId)").serialized
            stored += try await setup.server.get("/logs?run=\(runId)").text
            #expect(!stored.contains(secret), "the secret is masked in what Planter answers")
            // And in every file of its root: the state file, the history database.
            let root = setup.server.root
            for file in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] {
                guard let data = FileManager.default.contents(atPath: root + "/" + file) else { continue }
                let found = data.range(of: Data(secret.utf8))
                let context = found.map { String(decoding: data[max(0, $0.lowerBound - 200)..<min(data.count, $0.upperBound + 50)], as: UTF8.self) }
                #expect(found == nil, "the secret is stored unmasked in \(file): \(context ?? "")")
            }
            let crossed = wire.withLock { $0 }
            #expect(crossed.contains { $0.contains("token=***") }, "the tap heard the output: \(crossed)")
            #expect(!crossed.contains { $0.contains(secret) }, "the worker masked it before it left: \(crossed)")
        }
    }

    @Test func pluginsListsTheWorkersOfTheDeploymentsRemotePools() async throws {
        try await pools.withPool(workers: ["w1"], arguments: ["w1": ["--namespace", "team-a"]]) { setup in
            func plugins(_ extra: [String: String], _ name: String) throws -> String {
                var environment = ProcessInfo.processInfo.environment
                for key in environment.keys where key.hasPrefix("PLANTER_") || key == "NATS_URL" { environment[key] = nil }
                environment.merge(extra) { _, new in new }
                let log = setup.harness.path(name)
                let pid = try spawnProcessGroup([try Products.planter, "plugins", "--config", setup.harness.path("server.yaml")],
                                                environment: environment, logPath: log)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                return try String(contentsOfFile: log, encoding: .utf8)
            }
            let listed = try plugins(["NATS_URL": setup.nats.natsURL], "plugins.txt")
            #expect(listed.contains("pool builders (executor build): 1 worker(s)"), "\(listed)")
            #expect(listed.contains("w1  namespace team-a  capacity 1"), "\(listed)")
            let without = try plugins([:], "plugins-no-nats.txt")
            #expect(without.contains("Remote pools: NATS is not configured (set NATS_URL to list the workers of pool builders)"), "\(without)")
        }
    }

    /// NATS's own auth: the URL's user and password (`nsc` is not installed here, so a `.creds`
    /// file cannot be made; NATS_CREDS goes to the same nats.c call the tests of nats.c cover).
    @Test func workersAndPlanterUseTheUserAndPasswordOfTheirURL() async throws {
        try await pools.withPool(workers: ["w1"], auth: ("planter", "pool-pass")) { setup in
            let answer = try await setup.server.post("/plan?wait=true", manifest(pools.buildPhase("authed", "echo via $PLANTER_WORKER_ID")))
            let phase = try answer.json()["result"]?["phases"]?.arrayValue?.first
            #expect(phase?["status"] == "succeeded", "\(answer) \(setup.workers.map(\.log))")
            #expect(phase?["attempts"]?.arrayValue?.last?["worker"] == "w1")
            // Without the password the server refuses the connection.
            let refused = try? NATSConnection.connect(NATSSettings(servers: [setup.nats.natsURL], name: "no password"))
            defer { refused?.close() }
            try await Task.sleep(for: .milliseconds(500))
            #expect(refused?.isConnected != true)
        }
    }
}
