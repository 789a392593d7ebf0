import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import PlanterJSON
import Synchronization
import Testing

// The harness around ServerProcess: a temporary folder and an HTTP client per test, the
// manifests the tests write, and the small readers and pollers they share.

// MARK: The harness

/// A temporary folder, an HTTP client on its own event loop group, and every planter
/// process started through it; `close()` kills them all and removes the folder.
final class Harness: @unchecked Sendable {
    let directory: String
    let group: MultiThreadedEventLoopGroup
    let client: HTTPClient
    private let servers = Mutex<[ServerProcess]>([])

    init() throws {
        directory = NSTemporaryDirectory() + "planter-server-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.idleTimeout = .seconds(5)
        client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    /// A path inside the test's folder.
    func path(_ name: String) -> String { directory + "/" + name }

    /// Starts `planter serve` with state under `root` (a name inside the folder).
    func start(root: String = "root", environment: [String: String] = [:], arguments: [String] = []) async throws -> ServerProcess {
        let rootPath = path(root)
        try FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        let server = try await ServerProcess.start(root: rootPath, environment: environment, arguments: arguments,
                                                   logPath: path("\(root).log"), client: client)
        servers.withLock { $0.append(server) }
        return server
    }

    /// Starts `planter serve` expecting it to refuse to start: what it said (an issue if it started).
    func startupFailure(environment: [String: String] = [:], arguments: [String] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        do {
            _ = try await start(environment: environment, arguments: arguments)
            Issue.record("the server started", sourceLocation: sourceLocation)
            return ""
        } catch let failure as TestFailure {
            return "\(failure)"
        }
    }

    func close() async {
        for server in servers.withLock({ $0 }) { server.kill() }
        try? await client.shutdown()
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Lines appended to a file by shell phases (`echo id >> file`).
    func lines(_ name: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path(name)) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }
}

/// Runs `body` with a fresh harness and always cleans up (processes killed, client shut down).
func withHarness(_ body: (Harness) async throws -> Void) async throws {
    let harness = try Harness()
    do {
        try await body(harness)
    } catch {
        await harness.close()
        throw error
    }
    await harness.close()
}

/// Starts one server and runs `body` with it.
func withServer(environment: [String: String] = [:], arguments: [String] = [],
                _ body: (ServerProcess, Harness) async throws -> Void) async throws {
    try await withHarness { harness in
        let server = try await harness.start(environment: environment, arguments: arguments)
        try await body(server, harness)
    }
}

// MARK: Manifests

/// A shell phase as JSON text.
func shellPhase(_ id: String, _ script: String, waitFor: [String] = [], waitKey: String = "waitFor", extra: String = "") -> String {
    let wait = waitFor.isEmpty ? "" : #", "\#(waitKey)": {"phases": [\#(waitFor.map { "\"\($0)\"" }.joined(separator: ", "))]}"#
    return #"{"kind": "Phase", "id": "\#(id)", "spec": {"selector": {"matchLabels": {"executor": "shell"}}\#(wait)\#(extra), "x-run": {"script": \#(JSON.string(script).serialized)}}}"#
}

func manifest(_ phases: String...) -> String { manifest(phases) }
func manifest(_ phases: [String]) -> String { "[\n" + phases.joined(separator: ",\n") + "\n]\n" }

/// A phase that appends its id (or `mark`) to a log file, so the test can count executions.
func recordingPhase(_ id: String, log: String, waitFor: [String] = [], mark: String? = nil, extra: String = "") -> String {
    shellPhase(id, "echo \(mark ?? id) >> \(log)", waitFor: waitFor, extra: extra)
}

extension JSON {
    var ids: [String] { (arrayValue ?? []).compactMap { $0["id"]?.stringValue ?? $0.stringValue } }

    /// Run result: phase id → status.
    var statuses: [String: String] {
        Dictionary((self["phases"]?.arrayValue ?? []).map { ($0["id"]?.stringValue ?? "?", $0["status"]?.stringValue ?? "?") },
                   uniquingKeysWith: { first, _ in first })
    }

    /// GET /state: phase id → live status.
    var phaseStatuses: [String: String] {
        Dictionary((self["phaseStatus"]?.objectValue ?? JSONObject()).map { ($0.key, $0.value["status"]?.stringValue ?? "?") },
                   uniquingKeysWith: { first, _ in first })
    }
}

/// Polls `condition` for up to `seconds`.
func eventually(within seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// Prometheus text: the value of the sample `name{labels}` (labels in any order), 0 if absent.
func metric(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double {
    var total = 0.0
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let series = line[..<space]
        let value = Double(line[line.index(after: space)...]) ?? 0
        var sampleName = Substring(series)
        var sampleLabels: [String: String] = [:]
        if let brace = series.firstIndex(of: "{") {
            sampleName = series[..<brace]
            let inner = series[series.index(after: brace)..<(series.lastIndex(of: "}") ?? series.endIndex)]
            for pair in inner.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                sampleLabels[String(parts[0]).trimmingCharacters(in: .whitespaces)] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        guard sampleName == name, labels.allSatisfy({ sampleLabels[$0.key] == $0.value }) else { continue }
        total += value
    }
    return total
}
