import PlanterCore
// A real HTTP server on loopback for the tests that drive the http plugin (HTTPExecutorTests and the
// contract suite): Python's http.server with the endpoints they need.
import Dispatch
import Foundation
import PlanterJSON

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with a fresh test server, stopped afterwards.
public func withTestServer<T>(_ body: (TestHTTPServer) throws -> T) throws -> T {
    let server = try TestHTTPServer()
    defer { server.stop() }
    return try body(server)
}

/// Python's http.server (standard library only) with the endpoints the tests need. It writes
/// its port to a file once listening, and exits on its own if the test process goes away.
public final class TestHTTPServer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    // @unchecked: set up in init, then only read; the semaphore is thread-safe.
    public let port: Int
    private let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    private let dir: String

    static let python: String = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"

    public init() throws {
        var template = Array("/tmp/planter-http-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed") }
        dir = String(cString: made)
        let script = dir + "/server.py"
        let portFile = dir + "/port"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)

        if Self.python.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: Self.python)
            process.arguments = [script, portFile]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [Self.python, script, portFile]
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        let deadline = ContinuousClock.now + .seconds(10)
        var found: Int?
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let number = Int(text) {
                found = number
                break
            }
            if !process.isRunning { break }
            usleep(10_000)
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            _ = exited.wait(timeout: .now() + 5)
            try? FileManager.default.removeItem(atPath: dir)
            throw Failure(description: "the test HTTP server (\(Self.python)) did not start")
        }
        port = found
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// How many requests for `path` the server has received: it counts each on arrival, before
    /// answering, in a file next to its port file.
    public func hits(_ path: String) -> Int {
        guard let data = FileManager.default.contents(atPath: dir + "/hits.json"), let counts = try? JSONParser.parse(Array(data))
        else { return 0 }
        return counts[path]?.intValue ?? 0
    }

    /// Polls until the server has received `count` requests for `path` (false after 30 s).
    public func waitForHits(_ path: String, _ count: Int) -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if hits(path) >= count { return true }
            usleep(5_000)
        }
        return false
    }

    public func stop() {
        // SIGKILL: the child may inherit a signal mask that blocks SIGTERM from the test runner.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = exited.wait(timeout: .now() + 5)
        try? FileManager.default.removeItem(atPath: dir)
    }

    static let script = #"""
        import json, os, sys, threading, time
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
        from urllib.parse import urlparse, parse_qs

        hits = {}
        hits_file = os.path.join(os.path.dirname(sys.argv[1]), "hits.json")
        together = threading.Condition()
        arrived = [0]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def send(self, status, body, ctype="text/plain", extra=()):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra: self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            def handle_any(self):
                url = urlparse(self.path); q = parse_qs(url.query); p = url.path
                with together:
                    hits[p] = hits.get(p, 0) + 1
                    with open(hits_file + ".tmp", "w") as f: json.dump(hits, f)
                    os.rename(hits_file + ".tmp", hits_file)
                length = int(self.headers.get("Content-Length") or 0)
                received = self.rfile.read(length).decode() if length else ""
                if p == "/json":
                    self.send(200, json.dumps({"hello": "world", "n": 3, "list": [1, 2]}),
                              "application/json; charset=utf-8", [("X-Served-By", "test")])
                elif p == "/echo":
                    self.send(201, json.dumps({"method": self.command, "contentType": self.headers.get("Content-Type"),
                                               "token": self.headers.get("X-Token"), "received": received}),
                              "application/json")
                elif p.startswith("/status/"):
                    status = int(p.split("/")[2])
                    if status == 204:
                        self.send_response(204); self.end_headers()
                    else:
                        self.send(status, "status body")
                elif p == "/redirect":
                    self.send(302, "", extra=[("Location", "/json")])
                elif p == "/slow":
                    time.sleep(int(q.get("ms", ["5000"])[0]) / 1000)
                    self.send(200, "slow done")
                elif p == "/barrier":
                    # Answers once n requests are here at the same time; 504 after 30 s alone.
                    n = int(q.get("n", ["2"])[0])
                    with together:
                        arrived[0] += 1
                        together.notify_all()
                        ok = together.wait_for(lambda: arrived[0] >= n, timeout=30)
                    self.send(200 if ok else 504, "together" if ok else "alone")
                elif p == "/big":
                    self.send(200, "x" * int(q.get("n", ["0"])[0]))
                else:
                    self.send(404, "not found")
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            def handle_error(self, request, client_address):
                pass  # clients that hang up (timeout and cancel tests) are expected

        server = Server(("127.0.0.1", 0), Handler)
        with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(server.server_address[1]))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        parent = os.getppid()
        def watchdog():
            while os.getppid() == parent: time.sleep(0.2)
            os._exit(0)
        threading.Thread(target=watchdog, daemon=True).start()
        server.serve_forever()
        """#
}
