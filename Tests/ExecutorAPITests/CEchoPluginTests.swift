import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a call streamed, collected from any thread.
final class CallRecorder: Sendable {
    private let chunks = Mutex<[(OutputChannel, [UInt8])]>([])
    private let logs = Mutex<[(LogLevel, String)]>([])

    func context() -> CallContext {
        CallContext(
            output: { [self] stream, bytes in chunks.withLock { $0.append((stream, Array(bytes))) } },
            log: { [self] level, message in logs.withLock { $0.append((level, message)) } })
    }

    func text(_ stream: OutputChannel) -> String {
        chunks.withLock { chunks in
            String(decoding: chunks.filter { $0.0 == stream }.flatMap(\.1), as: UTF8.self)
        }
    }

    var chunkCount: Int { chunks.withLock { $0.count } }
}

func request(phase: String = "p1", description: String = "", payload: JSON = .object(JSONObject()),
             inputs: JSONObject = JSONObject()) -> ExecuteRequest {
    ExecuteRequest(runId: "r-test", phaseId: phase, executor: "c-echo", description: description,
                   payload: payload, inputs: inputs)
}

func parse(_ text: String) throws -> JSON { try JSONParser.parse(text) }

/// c-echo built from source by the test with the README's one-line `cc` command, then driven
/// through the host's real loader and executor. Proves a plain C plugin works over the ABI.
@Suite struct CEchoPluginTests {
    @Test func loadsWithItsDescriptor() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let path = try await CPlugins.buildCEcho(into: scratch)

        let plugin = try PluginLoader.load(path: path.path)
        #expect(plugin.name == "c-echo")
        #expect(plugin.version == "1.0.0")
        #expect(plugin.abiVersion == 1)
        #expect(plugin.abiVersion == planterABIVersion)
        #expect(plugin.path == path.path)
        #expect(plugin.concurrentExecute)
        #expect(!plugin.summary.isEmpty)
    }

    @Test func echoesDescriptionToStdoutAndPayloadToOutputs() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let plugin = try PluginLoader.load(path: try await CPlugins.buildCEcho(into: scratch).path)
        let executor = try plugin.makeExecutor(name: "echo")

        // Strings with escapes, brackets inside strings, nesting, null and unicode: the payload is
        // copied by a bracket-counting scanner, so these are the cases that would break it.
        let payload = try parse(#"{"a":[1,{"b":"}]\"\\"}],"n":null,"t":true,"s":"é 😀","x":{"fail":false}}"#)
        let recorder = CallRecorder()
        let result = executor.execute(
            request(description: "Say \"hi\" — é 😀 {tab}\tend", payload: payload,
                    inputs: ["payload": .object(["decoy": true])]),
            call: recorder.context())

        #expect(result.status == .succeeded)
        #expect(result.message == "echoed")
        #expect(result.exitCode == nil)
        #expect(result.outputs == ["echo": payload])
        #expect(recorder.text(.stdout) == "Say \"hi\" — é 😀 {tab}\tend\n")
        #expect(recorder.text(.stderr).isEmpty)
    }

    @Test(arguments: [
        JSON.object(JSONObject()),
        JSON.int(42),
        JSON.null,
        JSON.string("a \"quoted\" } ] \\"),
        JSON.array([.int(1), .array([]), .object(JSONObject()), .double(2.5)]),
    ])
    func echoesAnyPayloadShape(_ payload: JSON) async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let executor = try PluginLoader.load(path: try await CPlugins.buildCEcho(into: scratch).path)
            .makeExecutor(name: "echo")
        let recorder = CallRecorder()
        let result = executor.execute(request(description: "", payload: payload), call: recorder.context())
        #expect(result.status == .succeeded)
        #expect(result.outputs["echo"] == payload)
        #expect(recorder.chunkCount == 0, "an empty description streams nothing")
    }

    @Test func payloadAskingToFailFailsWithExitCode3() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let executor = try PluginLoader.load(path: try await CPlugins.buildCEcho(into: scratch).path)
            .makeExecutor(name: "echo")
        let payload: JSON = ["fail": true, "why": "testing"]
        let recorder = CallRecorder()
        let result = executor.execute(request(description: "doomed", payload: payload), call: recorder.context())
        #expect(result.status == .failed)
        #expect(result.exitCode == 3)
        #expect(result.outputs["echo"] == payload)
        #expect(recorder.text(.stdout) == "doomed\n")
    }

    @Test func configAskingToFailIsACreateError() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let plugin = try PluginLoader.load(path: try await CPlugins.buildCEcho(into: scratch).path)
        let error = #expect(throws: PluginFailure.self) {
            try plugin.makeExecutor(name: "broken", config: ["fail": true])
        }
        #expect(error?.reason.contains("c-echo: configured to fail") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("broken") == true, "the message should name the executor instance")
        // The same plugin still creates healthy instances afterwards.
        #expect(throws: Never.self) { try plugin.makeExecutor(name: "fine", config: ["fail": false]) }
    }

    /// It declares PLANTER_CAP_CONCURRENT_EXECUTE, so the host calls one instance from many threads.
    @Test func concurrentExecuteOnOneInstance() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let executor = try PluginLoader.load(path: try await CPlugins.buildCEcho(into: scratch).path)
            .makeExecutor(name: "echo")
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<500 {
                let recorder = CallRecorder()
                let id = "w\(worker)-\(i)"
                let result = executor.execute(
                    request(phase: id, description: id, payload: ["id": .string(id)]), call: recorder.context())
                if result.status != .succeeded || result.outputs["echo"] != ["id": .string(id)]
                    || recorder.text(.stdout) != id + "\n" {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    /// The standalone build exports the entry and nothing else (helpers are static or hidden), so two plugins
    /// loaded side by side cannot collide.
    @Test func exportsOnlyTheEntrySymbol() async throws {
        let scratch = try ScratchDirectory("c-echo")
        defer { scratch.remove() }
        let path = try await CPlugins.buildCEcho(into: scratch)
        let symbols = try await Tools.mustRun("nm", ["-D", "--defined-only", path.path]).output
            .split(separator: "\n")
            .compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(symbols == ["planter_executor_entry"])
    }

    /// The product SwiftPM built (`planter-c-echo`) sits next to the test binary: it loads and works
    /// the same, although it was linked by swiftc.
    @Test func swiftPMBuiltProductLoads() throws {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Inside an .xctest bundle on other platforms; on Linux the binary sits in the bin folder.
        while directory.path != "/" && !FileManager.default.fileExists(
            atPath: directory.appendingPathComponent("libplanter-c-echo.so").path) {
            directory.deleteLastPathComponent()
        }
        let path = directory.appendingPathComponent("libplanter-c-echo.so").path
        try #require(FileManager.default.fileExists(atPath: path),
                     "libplanter-c-echo.so not found above \(executable)")
        let plugin = try PluginLoader.load(path: path)
        #expect(plugin.name == "c-echo")
        let recorder = CallRecorder()
        let result = try plugin.makeExecutor(name: "echo")
            .execute(request(description: "from SwiftPM", payload: JSON.array([1, 2])), call: recorder.context())
        #expect(result.status == .succeeded)
        #expect(result.outputs["echo"] == JSON.array([1, 2]))
        #expect(recorder.text(.stdout) == "from SwiftPM\n")
    }
}
