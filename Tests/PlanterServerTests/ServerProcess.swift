import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The harness for the server tests: it starts the real `planter serve` binary from the build
// products folder (the one this test binary sits in) on a free loopback port with a fresh
// temporary --root, talks to it over real HTTP (AsyncHTTPClient on its own event loop group),
// and kills every process it started (with the whole tree of phase processes) at the end.

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Products {
    /// The first ancestor folder of the test binary that holds an executable `planter`.
    static let directory: URL? = {
        var starts: [URL] = []
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: link))
        }
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            starts.append(URL(fileURLWithPath: first, relativeTo: cwd).standardizedFileURL)
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") { starts.append(bundle.bundleURL) }
        if let url = Bundle.main.executableURL { starts.append(url) }
        for start in starts {
            var directory = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("planter").path
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate) {
                    return directory
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }()

    static var planter: String {
        get throws {
            guard let directory else {
                throw TestFailure("no planter executable next to the test binary; build everything first (swift build --build-tests)")
            }
            return directory.appendingPathComponent("planter").path
        }
    }
}

// MARK: Processes

/// Every process id below `root` (children, grandchildren…), read from /proc.
func descendants(of root: pid_t) -> [pid_t] {
    var children: [pid_t: [pid_t]] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // "pid (comm) state ppid ..."
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = pid_t(fields[1]) else { continue }
        children[parent, default: []].append(pid)
    }
    var result: [pid_t] = []
    var queue = [root]
    while let next = queue.popLast() {
        for child in children[next] ?? [] {
            result.append(child)
            queue.append(child)
        }
    }
    return result
}

/// One `planter serve` process: its own process group, stdout and stderr appended to a log
/// file, reaped with waitpid (never Foundation's waitUntilExit).
final class ServerProcess: @unchecked Sendable {
    let pid: pid_t
    private(set) var port: Int
    let prefix: String
    let root: String
    let logPath: String
    /// Where this process's part of the log starts (restarts append to the same file).
    private(set) var logOffset = 0
    private let reaped = Mutex<Int32?>(nil)
    private let client: HTTPClient

    var base: String { "http://127.0.0.1:\(port)" }
    var url: String { base + prefix }

    private init(pid: pid_t, port: Int, prefix: String, root: String, logPath: String, client: HTTPClient) {
        self.pid = pid
        self.port = port
        self.prefix = prefix
        self.root = root
        self.logPath = logPath
        self.client = client
    }

    /// Spawns `planter serve --host 127.0.0.1 --port 0 --root ROOT` (plus `arguments`) and
    /// waits for the "listening on" line that names the port it got.
    static func start(root: String, environment extra: [String: String], arguments: [String], logPath: String,
                      client: HTTPClient, timeout: Double = 60) async throws -> ServerProcess {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PLANTER_") || key == "PORT" || key == "LOG_LEVEL" { environment[key] = nil }
        for (key, value) in extra { environment[key] = value }
        // As the server normalizes it: "api/v1/" → "/api/v1".
        var prefix = extra["PLANTER_PREFIX"] ?? ""
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.isEmpty && !prefix.hasPrefix("/") { prefix = "/" + prefix }
        let planter = try Products.planter
        var argv = [planter, "serve", "--root", root]
        if !arguments.contains("--host") { argv += ["--host", "127.0.0.1"] }
        if !arguments.contains("--port") { argv += ["--port", "0"] }
        argv += arguments
        let offset = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
        let pid = try spawn(argv, environment: environment, logPath: logPath)
        let server = ServerProcess(pid: pid, port: 0, prefix: prefix, root: root, logPath: logPath, client: client)
        server.logOffset = offset
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = server.log(from: offset)
            if let port = Self.listeningPort(in: log) {
                server.port = port
                return server
            }
            if let status = server.poll() {
                throw TestFailure("planter serve exited (\(status)) before listening:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(15))
        }
        server.kill()
        throw TestFailure("planter serve did not listen within \(timeout)s:\n\(server.log(from: offset))")
    }

    /// The port of "listening on http://host:PORT".
    static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "listening on http://") else { return nil }
        let rest = log[range.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let digits = rest[rest.index(after: colon)...].prefix { $0.isNumber }
        return Int(digits)
    }

    private static func spawn(_ arguments: [String], environment: [String: String], logPath: String) throws -> pid_t {
        do {
            return try spawnProcessGroup(arguments, environment: environment, logPath: logPath)
        } catch let failure as SpawnFailure {
            throw TestFailure(failure.description)
        }
    }

    /// The exit status if the process has ended (reaps it once): the exit code, or 128+signal.
    @discardableResult
    func poll() -> Int32? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else { return nil }
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            reaped = code
            return code
        }
    }

    var isRunning: Bool { poll() == nil }

    func signal(_ number: Int32) { if isRunning { Glibc.kill(pid, number) } }

    /// Waits up to `timeout` seconds for the exit; nil if it is still running.
    func waitForExit(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = poll() { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return poll()
    }

    /// SIGKILL to the server, its process group and every process below it (phases run in
    /// their own groups), then reaps it. Safe to call twice.
    func kill() {
        if isRunning {
            let tree = descendants(of: pid)
            Glibc.kill(-pid, SIGKILL)
            Glibc.kill(pid, SIGKILL)
            for child in tree {
                Glibc.kill(-child, SIGKILL)
                Glibc.kill(child, SIGKILL)
            }
        }
        reaped.withLock { reaped in
            guard reaped == nil else { return }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            reaped = 128 + SIGKILL
        }
    }

    deinit { kill() }

    /// This process's log (stdout and stderr).
    func log() -> String { log(from: logOffset) }

    func log(from offset: Int) -> String {
        guard let data = FileManager.default.contents(atPath: logPath), data.count >= offset else { return "" }
        return String(decoding: data[offset...], as: UTF8.self)
    }

    // MARK: HTTP

    /// One request to `url + path` (the prefix included unless `raw`).
    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, contentType: String? = "application/json",
                 headers: [(String, String)] = [], raw: Bool = false, timeout: Int64 = 30) async throws -> Answer {
        var request = HTTPClientRequest(url: (raw ? base : url) + path)
        request.method = method
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(timeout))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
    }

    /// POST with a chunked body (no Content-Length), sent in `chunks`.
    func postChunked(_ path: String, _ chunks: [String], contentType: String = "application/json") async throws -> Answer {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
        continuation.finish()
        request.body = .stream(stream, length: .unknown)
        let response = try await client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Answer {
        try await request(.GET, path, headers: headers)
    }

    func post(_ path: String, _ body: String? = nil, contentType: String? = "application/json",
              headers: [(String, String)] = []) async throws -> Answer {
        try await request(.POST, path, body: body, contentType: contentType, headers: headers)
    }

    /// GET that must answer 200 with JSON.
    func json(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSON {
        let answer = try await get(path)
        #expect(answer.status == 200, "GET \(path): \(answer)", sourceLocation: sourceLocation)
        return try answer.json()
    }

    /// POST /plan (options as a query string) that must answer 200.
    @discardableResult
    func plan(_ manifest: String, _ query: String = "", sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSON {
        let answer = try await post("/plan" + (query.isEmpty ? "" : "?" + query), manifest)
        guard answer.status == 200 else {
            Issue.record("POST /plan?\(query): \(answer)", sourceLocation: sourceLocation)
            throw TestFailure("POST /plan answered \(answer.status)")
        }
        return try answer.json()
    }

    /// Polls GET /runs/:id until the run has ended; returns it.
    func waitForRun(_ runId: String, timeout: Double = 20) async throws -> JSON {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let run = try await get("/runs/\(runId)")
            if run.status == 200, let json = try? run.json(), let status = json["status"]?.stringValue,
                status != "running" && status != "pending" {
                if try await get("/state").json()["activeRunId"]?.isNull == true { return json }
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("run \(runId) did not end within \(timeout)s")
    }

    /// Polls until `condition` holds for GET /state.
    func waitForState(timeout: Double = 10, _ what: String, _ condition: (JSON) -> Bool) async throws -> JSON {
        let deadline = Date().addingTimeInterval(timeout)
        var last = JSON.null
        while Date() < deadline {
            if let answer = try? await get("/state"), answer.status == 200, let state = try? answer.json() {
                last = state
                if condition(state) { return state }
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("\(what): not within \(timeout)s; last /state: \(last.serialized)")
    }

    var stateFile: String { root + "/state/state.json" }

    func readStateFile() throws -> JSON {
        guard let data = FileManager.default.contents(atPath: stateFile) else { throw TestFailure("no state file at \(stateFile)") }
        return try JSONParser.parse(Array(data))
    }
}

/// An HTTP answer.
struct Answer: CustomStringConvertible {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> JSON {
        do {
            return try JSONParser.parse(body)
        } catch {
            throw TestFailure("not JSON (\(error)): \(self)")
        }
    }

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// `error.code` of an error body.
    var errorCode: String? { (try? json())?["error"]?["code"]?.stringValue }
    var errorMessage: String { (try? json())?["error"]?["message"]?.stringValue ?? "" }

    var description: String { "HTTP \(status) \(headers.first(name: "content-type") ?? "") \(text.prefix(2000))" }
}

