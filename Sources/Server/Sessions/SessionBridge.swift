import ExecutorRuntime
import Logging
import PlanterCore
import PlanterDeployment
import PlanterHost
import PlanterJSON
import PlanterMessaging
import PlanterWorkers
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The Phase Manifest Protocol's session interface over NATS (`NATS_URL` set): a tool's
/// `.start` runs a plan bound to its session; every run of this Planter is mirrored on a
/// session (`.start`, `.state`, `.log`, `.events`); `.get_state` and `.diff` are answered;
/// `.control` pauses, resumes and cancels. A service: `run()` serves until graceful shutdown,
/// then flushes and closes the connection (after the namespaces' runs have ended).
final class SessionBridge: Service, Sendable {
    let connection: NATSConnection
    let table = SessionTable()
    /// Attempts a session's runtime executes (`session: {runtime: true}` executors).
    let runtime = SessionRuntime()
    /// A deployment executor is a session runtime: `.ack`, `.state` and `.log` are listened to.
    let runtimeWanted = Mutex(false)
    /// The worker pools' side in this server, made with the first `remote` executor.
    private let remote = Mutex<RemoteDispatcher?>(nil)

    /// The worker pools' dispatcher (one per server, on this connection).
    func dispatcher() throws(NATSError) -> RemoteDispatcher {
        try remote.withLock { current throws(NATSError) -> RemoteDispatcher in
            if let current { return current }
            let logger = self.logger
            let made = try RemoteDispatcher(connection: connection, prefix: subjects.prefix) { line in logger.warning("\(line)") }
            current = made
            return made
        }
    }

    /// For a restart: what an interrupted run of `namespace` left on workers (nil without a remote executor).
    func recoverRemoteAttempts(namespace: String) -> (@Sendable (String) async -> [String: ExecuteResult])? {
        guard let dispatcher = remote.withLock({ $0 }) else { return nil }
        return { runId in
            await withCheckedContinuation { continuation in
                startThread(name: "planter-recover") { continuation.resume(returning: dispatcher.recover(runId: runId, namespace: namespace)) }
            }
        }
    }

    /// The workers heard from lately (nil: no remote executor, so no pool is followed).
    var workers: [RemoteDispatcher.Presence]? { remote.withLock { $0 }?.workers }
    let subjects: SessionSubjects
    /// This process's `Planter-Origin` (its `.start` messages are not taken as input by any Planter).
    let origin: String
    let logger: Logger
    private let namespaces = Mutex<Namespaces?>(nil)
    private let inbox = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    /// Publish failures are logged once per kind of failure, not per message.
    private let lastPublishError = Mutex<String?>(nil)

    init(connection: NATSConnection, subjects: SessionSubjects, origin: String, logger: Logger) {
        self.connection = connection
        self.subjects = subjects
        self.origin = origin
        self.logger = logger
    }

    /// Connects (on a thread of its own: it may wait for the connect timeout). A NATS server
    /// that is down is no reason not to start: the connection keeps trying in the background.
    static func connect(_ settings: NATSSettings, prefix: String, logger: Logger) async throws(PlanterServer.StartupError) -> SessionBridge {
        let origin = "planter-\(hostName())-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        var settings = settings
        settings.name = "planter serve \(origin)"
        settings.noEcho = true
        let named = settings
        let result: Result<NATSConnection, NATSError> = await withCheckedContinuation { continuation in
            startThread(name: "planter-nats-connect") {
                continuation.resume(returning: Result { () throws(NATSError) in
                    try NATSConnection.connect(named) { event in
                        switch event {
                        case .error(let text): logger.warning("NATS error", metadata: ["error": "\(text)"])
                        case .closed: logger.info("NATS connection closed")
                        default: logger.notice("NATS \(event)")
                        }
                    }
                })
            }
        }
        switch result {
        case .success(let connection):
            if !connection.isConnected {
                logger.warning("NATS is not reachable yet; sessions wait for it (retrying in the background)",
                               metadata: ["servers": "\(settings.servers.joined(separator: ","))"])
            }
            return SessionBridge(connection: connection, subjects: SessionSubjects(prefix: prefix), origin: origin, logger: logger)
        case .failure(let error):
            throw .nats("cannot set up the NATS connection: \(error)")
        }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The namespaces are made after the bridge (their services mirror on it): attach them before serving.
    func attach(_ namespaces: Namespaces) { self.namespaces.withLock { $0 = namespaces } }

    /// The sink that mirrors a namespace's runs, and the hook that binds and announces each run.
    func mirror(namespace: String) -> SessionMirror { SessionMirror(namespace: namespace, sessions: self) }

    func runStarting(namespace: String) -> @Sendable (RunStart) -> Void {
        { [self] start in self.bind(namespace: namespace, start) }
    }

    // MARK: Serving

    func run() async throws {
        var subscriptions: [NATSSubscription] = []
        let continuation = inbox.continuation
        for kind in [SessionSubjects.Kind.start, .control, .getState, .diff] {
            for subject in subjects.wildcards(kind) {
                subscriptions.append(try connection.subscribe(subject) { message in continuation.yield(message) })
            }
        }
        if runtimeWanted.withLock({ $0 }) {
            // One subscription for a runtime's `.ack`, `.state` and `.log` (one delivery thread keeps
            // the order the runtime published them in: a phase's output before its `complete`),
            // straight to the waiting attempt on nats.c's thread (it only enqueues).
            for subject in subjects.everyKind {
                subscriptions.append(try connection.subscribe(subject) { [subjects, runtime] message in
                    guard let (namespace, session, kind) = subjects.parse(message.subject), [.ack, .state, .log].contains(kind) else { return }
                    runtime.receive(SessionTable.Key(namespace: namespace, session: session), kind, message.data)
                })
            }
        }
        logger.info("NATS sessions", metadata: ["subjects": "\(subjects.prefix)plan.session.>", "connected": "\(connection.isConnected)"])
        await withGracefulShutdownHandler {
            for await message in inbox.stream { await handle(message) }
        } onGracefulShutdown: {
            continuation.finish()
        }
        for subscription in subscriptions { connection.unsubscribe(subscription) }
        remote.withLock { $0 }?.stop()
        await connection.shutdown()
    }

    func handle(_ message: NATSMessage) async {
        guard let (namespace, session, kind) = subjects.parse(message.subject) else { return }
        let key = SessionTable.Key(namespace: namespace, session: session)
        switch kind {
        case .start:
            // Another Planter's announcement of its own run (or ours): not a request to run it.
            guard message.headers[NATSMessage.originHeader] == nil else { return }
            let answer = await start(key, message.data)
            if let reply = message.reply { publish(reply, SessionMessages.encode(answer)) }
        case .control:
            let answer = await control(key, message.data)
            if let reply = message.reply { publish(reply, SessionMessages.encode(answer)) }
        case .getState:
            guard let reply = message.reply else { return }
            publish(reply, SessionMessages.encode(await state(key)))
        case .diff:
            guard let reply = message.reply else { return }
            publish(reply, SessionMessages.encode(await diff(key, message.data)))
        default:
            return
        }
    }

    func publish(_ subject: String, _ data: [UInt8], headers: [String: String] = [:]) {
        do {
            try connection.publish(subject, data, headers: headers)
            lastPublishError.withLock { $0 = nil }
        } catch {
            let text = error.text
            let first = lastPublishError.withLock { last in
                defer { last = text }
                return last != text
            }
            if first { logger.warning("NATS publish failed (further failures of this kind are not logged)", metadata: ["error": "\(error)"]) }
        }
    }

    /// /ready's `nats` check.
    var readiness: (ok: Bool, message: String) {
        connection.isConnected
            ? (true, "connected to \(connection.connectedURL ?? "NATS")")
            : (false, "not connected to NATS (reconnecting in the background; sessions wait)")
    }

    // MARK: Runs

    /// A run starts: bind it to its session and, unless a tool's `.start` asked for it,
    /// announce it with this Planter's own `.start` (the manifest, unless it is larger than
    /// the server takes in one message).
    private func bind(namespace: String, _ start: RunStart) {
        let key = SessionTable.Key(namespace: namespace, session: start.sessionId)
        let requested = table.record(key).map { $0.origin == .nats && ($0.status == "starting" || $0.status == "queued") } ?? false
        table.put(key, SessionTable.Record(origin: requested ? .nats : .planter, runId: start.runId, planId: start.planId,
                                           status: "running", manifest: start.manifest))
        guard !requested else { return }
        let limit = connection.maxPayload
        // A phase takes at least ~100 bytes: a plan that cannot fit is not encoded at all.
        var message = start.manifest.phases.count * 100 > limit ? []
            : SessionMessages.start(manifest: start.manifest.canonicalJSON, dryRun: false, runId: start.runId, planId: start.planId)
        if message.isEmpty || message.count > limit {
            let size = message.isEmpty ? "of \(start.manifest.phases.count) phases" : "(\(message.count) bytes)"
            message = SessionMessages.start(manifest: nil, dryRun: false, runId: start.runId, planId: start.planId,
                                            omitted: "the manifest \(size) is larger than the NATS server's "
                                                + "max_payload (\(limit) bytes); GET /plans/\(start.planId) has it")
        }
        publish(subjects.subject(namespace, start.sessionId, .start), message, headers: [NATSMessage.originHeader: origin])
    }

    func service(_ namespace: String) async throws(APIError) -> PlanterService {
        guard let namespaces = namespaces.withLock({ $0 }) else { throw APIError.unavailable("Planter is starting") }
        if namespace == NamespaceName.default { return namespaces.defaultService }
        return try await namespaces.service(namespace, create: false)
    }

    /// The namespace's service for a plan; a valid plan creates its namespace, as POST /plan does.
    func service(_ namespace: String, for document: JSON, dryRun: Bool) async throws -> PlanterService {
        guard let namespaces = namespaces.withLock({ $0 }) else { throw APIError.unavailable("Planter is starting") }
        if dryRun || namespace == NamespaceName.default { return try await service(namespace) }
        if await !namespaces.contains(namespace) { try namespaces.check(document, strict: false, namespace: namespace) }
        return try await namespaces.service(namespace, create: true)
    }
}
