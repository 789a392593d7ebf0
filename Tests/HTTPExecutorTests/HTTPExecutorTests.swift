import Dispatch
import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These tests drive the real libplanter-http.so through the host's loader and
// PluginExecutor, against a real HTTP server (Python's standard library) on loopback.

@Suite struct HTTPExecutorTests {
    @Test func loadsWithMetadata() throws {
        let plugin = try HTTPFixture.plugin()
        #expect(plugin.name == "http")
        #expect(plugin.abiVersion == 1)
        #expect(plugin.concurrentExecute)
        #expect(!plugin.summary.isEmpty)
    }

    @Test func badConfigIsRefusedWithItsField() throws {
        let plugin = try HTTPFixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "h", config: ["maxBodyBytes": 0]) } throws: { error in
            "\(error)".contains("config.maxBodyBytes")
        }
        #expect { _ = try plugin.makeExecutor(name: "h", config: ["connectTimeout": "soon"]) } throws: { error in
            "\(error)".contains("config.connectTimeout")
        }
        #expect { _ = try plugin.makeExecutor(name: "h", config: ["maxBodySize": 10]) } throws: { error in
            "\(error)".contains("maxBodySize")
        }
    }

    @Test func getJSONIsParsedIntoOutputs() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run(["url": .string(server.url("/json"))])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["status"] == 200)
            #expect(run.result.outputs["body"] == ["hello": "world", "n": 3, "list": [1, 2]])
            #expect(run.result.outputs["headers"]?["x-served-by"] == "test")
            #expect(run.result.outputs["headers"]?["content-type"] == "application/json; charset=utf-8")
            #expect(run.stdout.contains("GET \(server.url("/json")) -> 200 OK"), "\(run.stdout)")
        }
    }

    @Test func textBodyStaysAString() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run(["url": .string(server.url("/status/200"))])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["body"] == "status body")
        }
    }

    @Test func postSendsJSONWithItsContentTypeAndHeaders() throws {
        try withTestServer { server in
            let document: JSON = ["a": 1, "b": [true, nil, "x"], "c": ["d": 2.5]]
            let run = try HTTPFixture.run([
                "method": "post", "url": .string(server.url("/echo")), "json": document,
                "headers": ["X-Token": "t0k"],
            ])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["status"] == 201)
            let body = try #require(run.result.outputs["body"])
            #expect(body["method"] == "POST")
            #expect(body["contentType"] == "application/json")
            #expect(body["token"] == "t0k")
            let received = try #require(body["received"]?.stringValue)
            #expect(try JSONParser.parse(received) == document, "\(received)")
        }
    }

    @Test func stringBodyIsSentVerbatim() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run([
                "method": "PUT", "url": .string(server.url("/echo")), "body": "plain text ✓",
                "headers": ["Content-Type": "text/plain; charset=utf-8"],
            ])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["body"]?["method"] == "PUT")
            #expect(run.result.outputs["body"]?["received"] == "plain text ✓")
            #expect(run.result.outputs["body"]?["contentType"] == "text/plain; charset=utf-8")
        }
    }

    @Test(arguments: [
        ("/status/500", nil, false),
        ("/status/404", nil, false),
        ("/status/404", JSON(404), true),
        ("/status/404", JSON([200, 404]), true),
        ("/status/204", JSON("200-299"), true),
        ("/status/503", JSON("5xx"), true),
        ("/status/201", JSON([200, "202-204"]), false),
        ("/status/200", JSON("3xx"), false),
    ] as [(String, JSON?, Bool)])
    func expectDecidesTheOutcome(path: String, expect: JSON?, succeeds: Bool) throws {
        try withTestServer { server in
            var payload: JSONObject = ["url": .string(server.url(path))]
            if let expect { payload.append("expect", expect) }
            let run = try HTTPFixture.run(.object(payload))
            let code = Int(path.split(separator: "/").last!)!
            #expect(run.result.status == (succeeds ? .succeeded : .failed), "\(run.result)")
            #expect(run.result.outputs["status"]?.intValue == code, "\(run.result)")
            if !succeeds {
                #expect(run.result.message.contains("GET \(server.url(path)) returned \(code)"), "\(run.result.message)")
                #expect(run.result.message.contains("expected"), "\(run.result.message)")
            }
        }
    }

    @Test func redirectsAreFollowedByDefault() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run(["url": .string(server.url("/redirect"))])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["status"] == 200)
            #expect(run.result.outputs["body"]?["hello"] == "world")
        }
    }

    @Test func redirectsCanBeLeftUnfollowed() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run(
                ["url": .string(server.url("/redirect")), "followRedirects": false, "expect": "3xx"])
            #expect(run.result.status == .succeeded, "\(run.result)")
            #expect(run.result.outputs["status"] == 302)
            #expect(run.result.outputs["headers"]?["location"] == "/json")

            let strict = try HTTPFixture.run(["url": .string(server.url("/redirect")), "followRedirects": false])
            #expect(strict.result.status == .failed)
            #expect(strict.result.message.contains("returned 302"), "\(strict.result.message)")
        }
    }

    // The slow endpoint answers after 60 s: a call that ends failed before that was ended by
    // the limit under test (the server would have answered 200).
    @Test func payloadTimeoutFailsTheAttempt() throws {
        try withTestServer { server in
            let start = ContinuousClock.now
            let run = try HTTPFixture.run(["url": .string(server.url("/slow?ms=60000")), "timeout": "300ms"])
            let elapsed = ContinuousClock.now - start
            #expect(run.result.status == .failed, "\(run.result)")
            #expect(run.result.message.contains("timed out after 300 ms"), "\(run.result.message)")
            #expect(run.result.message.contains(server.url("/slow?ms=60000")))
            #expect(elapsed >= .milliseconds(250), "not before the limit: \(elapsed)")
        }
    }

    @Test func attemptTimeLimitBoundsTheRequest() throws {
        try withTestServer { server in
            let start = ContinuousClock.now
            let run = try HTTPFixture.run(
                ["url": .string(server.url("/slow?ms=60000")), "timeout": "2m"], timeoutMs: 400)
            #expect(run.result.status == .failed, "\(run.result)")
            #expect(run.result.message.contains("timed out after 400 ms"), "\(run.result.message)")
            #expect(ContinuousClock.now - start >= .milliseconds(350), "not before the limit")
        }
    }

    @Test func cancelStopsTheRequest() throws {
        try withTestServer { server in
            // Cancel once the server has the request (it is in flight, not merely queued).
            let run = try HTTPFixture.run(["url": .string(server.url("/slow?ms=60000"))]) { context in
                Thread.detachNewThread {
                    _ = server.waitForHits("/slow", 1)
                    context.cancel()
                }
            }
            #expect(run.result.status == .cancelled, "\(run.result)")
            #expect(run.result.message.contains("/slow"), "\(run.result.message)")
            #expect(server.hits("/slow") == 1)
        }
    }

    @Test func alreadyCancelledCallSendsNothing() throws {
        try withTestServer { server in
            let run = try HTTPFixture.run(["method": "POST", "url": .string(server.url("/echo")), "body": "x"]) { $0.cancel() }
            #expect(run.result.status == .cancelled, "\(run.result)")
            #expect(run.result.message.contains("before sending"), "\(run.result.message)")
            // A request the server had received would be counted by now: the call has returned
            // and the next request on the same server is answered after it.
            let after = try HTTPFixture.run(["url": .string(server.url("/json"))])
            #expect(after.result.status == .succeeded, "\(after.result)")
            #expect(server.hits("/echo") == 0, "the cancelled call reached the server")
            #expect(server.hits("/json") == 1)
        }
    }

    @Test func connectionRefusedFailsWithAClearMessage() throws {
        let port = try HTTPFixture.unusedPort()
        let url = "http://127.0.0.1:\(port)/json"
        let run = try HTTPFixture.run(["url": .string(url)])
        #expect(run.result.status == .failed, "\(run.result)")
        #expect(run.result.message.hasPrefix("GET \(url) failed: "), "\(run.result.message)")
        #expect(run.result.message.lowercased().contains("connection refused"), "\(run.result.message)")
    }

    @Test func bodyIsBoundedByMaxBodyBytes() throws {
        try withTestServer { server in
            let fits = try HTTPFixture.run(["url": .string(server.url("/big?n=1000"))], config: ["maxBodyBytes": 1000])
            #expect(fits.result.status == .succeeded, "\(fits.result)")
            #expect(fits.result.outputs["body"]?.stringValue?.utf8.count == 1000)

            let tooBig = try HTTPFixture.run(["url": .string(server.url("/big?n=1001"))], config: ["maxBodyBytes": 1000])
            #expect(tooBig.result.status == .failed, "\(tooBig.result)")
            #expect(tooBig.result.message.contains("maxBodyBytes (1000 bytes)"), "\(tooBig.result.message)")
        }
    }

    @Test func dryRunSendsNothing() throws {
        let run = try HTTPFixture.run(["method": "DELETE", "url": "http://127.0.0.1:9/thing"], dryRun: true)
        #expect(run.result.status == .succeeded)
        #expect(run.result.message == "dry run: would send DELETE http://127.0.0.1:9/thing")
    }

    @Test(arguments: [
        (JSON.object([:]), "payload needs url"),
        (JSON(["url": 5]), "payload.url must be a string"),
        (JSON(["url": "ftp://example.com/x"]), "payload.url must be an http:// or https:// URL"),
        (JSON(["url": "http://x/", "method": 1]), "payload.method must be a string"),
        (JSON(["url": "http://x/", "method": "GE T"]), "payload.method must be an HTTP method"),
        (JSON(["url": "http://x/", "headers": ["A": 1]]), "payload.headers.A must be a string"),
        (JSON(["url": "http://x/", "headers": "A: b"]), "payload.headers must be an object"),
        (JSON(["url": "http://x/", "body": "a", "json": ["b": 1]]), "either body or json, not both"),
        (JSON(["url": "http://x/", "body": ["b": 1]]), "payload.body must be a string"),
        (JSON(["url": "http://x/", "expect": "2yy"]), "payload.expect must be a status code"),
        (JSON(["url": "http://x/", "expect": [200, 700]]), "payload.expect[1] must be a status code"),
        (JSON(["url": "http://x/", "expect": []]), "payload.expect must not be an empty list"),
        (JSON(["url": "http://x/", "timeout": "soon"]), "payload.timeout must be a positive duration"),
        (JSON(["url": "http://x/", "followRedirects": "yes"]), "payload.followRedirects must be a boolean"),
        (JSON(["url": "http://x/", "timout": "5s"]), "unknown key \"timout\""),
        (JSON.string("http://x/"), "payload must be an object"),
    ])
    func invalidPayloadsNameTheField(payload: JSON, message: String) throws {
        let run = try HTTPFixture.run(payload)
        #expect(run.result.status == .invalid, "\(run.result)")
        #expect(run.result.message.contains(message), "\(run.result.message)")
    }

    @Test func concurrentCallsShareOneInstance() throws {
        try withTestServer { server in
            // One executor, six calls on six threads; the server answers each only once all six
            // are in flight together (504 after 30 s otherwise), so every call succeeds only if
            // the instance really serves them at once.
            let executor = try HTTPFixture.executor()
            let count = 6
            let results = Mutex<[ExecuteResult]>([])
            let done = DispatchGroup()
            for _ in 0..<count {
                done.enter()
                Thread.detachNewThread {
                    let result = executor.execute(
                        HTTPFixture.request(["url": .string(server.url("/barrier?n=\(count)"))]), call: CallContext())
                    results.withLock { $0.append(result) }
                    done.leave()
                }
            }
            #expect(done.wait(timeout: .now() + 120) == .success, "the calls did not return")
            let all = results.withLock { $0 }
            #expect(all.count == count)
            #expect(all.allSatisfy { $0.status == .succeeded }, "\(all.map(\.message))")
            #expect(server.hits("/barrier") == count)
        }
    }
}

// MARK: - Fixture

extension JSON {
    init(_ value: JSON) { self = value }
}

struct HTTPRun {
    var result: ExecuteResult
    var stdout: String
}

final class HTTPOutput: Sendable {
    private let text = Mutex<[UInt8]>([])
    func append(_ bytes: UnsafeRawBufferPointer) { text.withLock { $0.append(contentsOf: bytes) } }
    var string: String { text.withLock { String(decoding: $0, as: UTF8.self) } }
}

enum HTTPFixture {
    struct Missing: Error, CustomStringConvertible { var description: String }

    /// libplanter-http.so sits in the build products folder, next to the test binary.
    static let pluginPath: String? = BuiltPlugin.path("http")

    static func plugin() throws -> Plugin {
        guard let pluginPath else { throw Missing(description: "libplanter-http.so not found next to the test binary") }
        return try PluginLoader.load(path: pluginPath)
    }

    static func executor(config: JSON = [:]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "http", config: config)
    }

    static func request(_ payload: JSON, dryRun: Bool = false, timeoutMs: Int? = nil) -> ExecuteRequest {
        ExecuteRequest(runId: "r-test", phaseId: "p", executor: "http", payload: payload, dryRun: dryRun,
                       timeoutMs: timeoutMs)
    }

    static func run(
        _ payload: JSON, config: JSON = [:], dryRun: Bool = false, timeoutMs: Int? = nil,
        during: (CallContext) -> Void = { _ in }
    ) throws -> HTTPRun {
        let executor = try executor(config: config)
        let output = HTTPOutput()
        let context = CallContext(output: { _, bytes in output.append(bytes) })
        during(context)
        let result = executor.execute(request(payload, dryRun: dryRun, timeoutMs: timeoutMs), call: context)
        return HTTPRun(result: result, stdout: output.string)
    }

    /// A loopback port nothing listens on: bound, then released (SO_REUSEADDR off, no listen).
    static func unusedPort() throws -> Int { try TestDaemon.freePort() }
}
