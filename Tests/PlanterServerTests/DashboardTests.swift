import Foundation
import PlanterJSON
import Testing

/// The dashboard's server side: its public files, the redirect, and GET /graph.svg laid out by a
/// real `dot`, or by a stand-in `PLANTER_DOT` that hangs or crashes (the server keeps answering).
@Suite struct DashboardTests {
    // In a chain, so the failure of lint cannot stop build before it starts.
    static let plan = manifest(shellPhase("fetch", "echo fetched"), shellPhase("build", "echo built", waitFor: ["fetch"]),
                               shellPhase("lint", "exit 3", waitFor: ["build"]), shellPhase("ship", "echo shipped", waitFor: ["build", "lint"]))

    @Test func graphHasOneNodePerPhaseWithItsStatus() async throws {
        try await withServer(environment: ["PLANTER_TOKEN": "t0k"]) { server, _ in
            let auth = [("Authorization", "Bearer t0k")]
            let refused = try await server.get("/graph.svg")
            #expect(refused.status == 401, "\(refused)")
            let noPlan = try await server.get("/graph.svg", headers: auth)
            #expect(noPlan.status == 404 && noPlan.errorMessage.contains("no applied plan"), "\(noPlan)")

            let run = try await server.post("/plan?wait=true", Self.plan, headers: auth)
            let planId = try run.json()["planId"]?.stringValue
            let answer = try await server.get("/graph.svg", headers: auth)
            #expect(answer.status == 200, "\(answer)")
            #expect(answer.header("content-type") == "image/svg+xml")
            #expect(answer.header("x-planter-plan") == planId)
            #expect(answer.header("x-planter-graph") == "phases")
            let svg = answer.text
            #expect(svg.hasPrefix("<svg class=\"plan-graph\""), "\(svg.prefix(300))")
            for (phase, status) in [("fetch", "succeeded"), ("build", "succeeded"), ("lint", "failed"), ("ship", "skipped")] {
                #expect(svg.contains("data-phase=\"\(phase)\" tabindex=\"0\" role=\"button\" aria-label=\"\(phase)\" data-status=\"\(status)\""),
                        "\(phase): \(svg)")
                #expect(svg.contains("<title>\(phase)</title>"))
            }
            #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 4, "one edge per waitFor: \(svg)")

            // Laid out once per plan: a rerun changes the statuses in the same layout.
            _ = try await server.post("/phases/lint/run?wait=true", headers: auth)
            let again = try await server.get("/graph.svg", headers: auth).text
            #expect(again.contains("data-phase=\"lint\" tabindex=\"0\" role=\"button\" aria-label=\"lint\" data-status=\"failed\""))
        }
    }

    /// Phase ids are any non-blank text: a quote with a combining mark after it (one Character),
    /// a NUL (which ends dot's strings) and an id longer than dot's 16 KiB strings are all drawn.
    @Test func oddPhaseIdsAreDrawn() async throws {
        try await withServer { server, _ in
            let long = String(repeating: "x", count: 20_000)
            let ids = ["a\"\u{301}b", "nul\u{0}x", long]
            try await server.plan(manifest(ids.map { #"{"kind": "Phase", "id": \#(JSON.string($0).serialized)}"# }), "wait=true")
            let answer = try await server.get("/graph.svg")
            #expect(answer.status == 200, "\(answer)")
            let svg = answer.text
            #expect(svg.contains("data-phase=\"a&quot;\u{301}b\""), "\(svg.prefix(1500))")
            #expect(svg.contains("data-phase=\"nul\u{FFFD}x\""))
            #expect(svg.contains("data-phase=\"\(long)\"") && svg.contains("<title>\(long)</title>"))
        }
    }

    @Test func pageIsPublicAndTheRootRedirectsToIt() async throws {
        try await withServer(environment: ["PLANTER_TOKEN": "t0k"]) { server, _ in
            // The client follows redirects: / and /ui (302 to /ui/) both end on the page, without a token.
            for path in ["/", "/ui"] {
                let followed = try await server.get(path)
                #expect(followed.status == 200 && followed.text.contains("<title>Planter</title>"), "\(path): \(followed)")
            }
            let page = try await server.get("/ui/")
            #expect(page.status == 200 && page.header("content-type") == "text/html; charset=utf-8", "\(page)")
            #expect(page.text.contains("<script src=\"app.js\""))
            #expect(page.header("content-security-policy")?.contains("default-src 'self'") == true)
            let script = "text/javascript; charset=utf-8"
            for (file, type) in [("app.js", script), ("live.js", script), ("graph.js", script), ("pages.js", script), ("app.css", "text/css; charset=utf-8")] {
                let asset = try await server.get("/ui/\(file)")
                #expect(asset.status == 200 && asset.header("content-type") == type, "\(file): \(asset)")
            }
            let missing = try await server.get("/ui/nope.js")
            #expect(missing.status == 404 && missing.errorMessage.contains("nope.js"), "\(missing)")
        }
    }

    @Test func hangingLayoutIsStoppedAndHealthKeepsAnswering() async throws {
        try await withHarness { harness in
            let script = harness.path("dot-hangs")
            try harness.write("dot-hangs", "#!/bin/sh\nsleep 60\n")
            chmod(script, 0o755)
            let server = try await harness.start(environment: ["PLANTER_DOT": script, "PLANTER_DOT_TIMEOUT": "1.5"])
            try await server.plan(Self.plan, "wait=true")
            let started = Date()
            async let layout = server.get("/graph.svg")
            // While dot hangs, /health answers at once, many times.
            var slowest = 0.0
            for _ in 0..<20 {
                let before = Date()
                let health = try await server.get("/health")
                #expect(health.status == 200)
                slowest = max(slowest, Date().timeIntervalSince(before))
                try await Task.sleep(for: .milliseconds(40))
            }
            #expect(slowest < 0.5, "slowest /health: \(slowest)s")
            let answer = try await layout
            #expect(answer.status == 503 && answer.errorCode == "layoutFailed", "\(answer)")
            #expect(answer.errorMessage.contains("took longer than 1.5 s"), "\(answer)")
            #expect(Date().timeIntervalSince(started) < 10)
            // The script and its sleep were killed as a group: nothing is left under the server.
            #expect(await eventually(within: 3) { descendants(of: server.pid).isEmpty }, "\(descendants(of: server.pid))")
            #expect(try await server.get("/health").status == 200)
        }
    }

    @Test func crashingOrMissingLayoutGivesAClearError() async throws {
        try await withHarness { harness in
            let script = harness.path("dot-crashes")
            try harness.write("dot-crashes", "#!/bin/sh\necho 'dot: out of memory' >&2\nkill -SEGV $$\n")
            chmod(script, 0o755)
            let server = try await harness.start(environment: ["PLANTER_DOT": script])
            try await server.plan(Self.plan, "wait=true")
            let answer = try await server.get("/graph.svg")
            #expect(answer.status == 503 && answer.errorCode == "layoutFailed", "\(answer)")
            #expect(answer.errorMessage.contains("crashed (signal SIGSEGV): dot: out of memory"), "\(answer)")
            #expect(try await server.get("/health").status == 200)
            // Failures are not cached (a fixed dot is used next time), and each one leaves no pipe or pidfd open.
            func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/fd").count) ?? -1 }
            let before = openFiles()
            for _ in 0..<5 { #expect(try await server.get("/graph.svg").status == 503) }
            #expect(await eventually(within: 2) { openFiles() <= before }, "open files: \(before) → \(openFiles())")
            #expect(descendants(of: server.pid).isEmpty)

            let missing = try await harness.start(root: "other", environment: ["PLANTER_DOT": harness.path("no-such-dot")])
            try await missing.plan(Self.plan, "wait=true")
            let none = try await missing.get("/graph.svg")
            #expect(none.status == 503 && none.errorMessage.contains("cannot be started"), "\(none)")
        }
    }

    @Test func largePlanIsDrawnByWave() async throws {
        try await withServer { server, _ in
            // 2,100 phases (no executor named: noop) in 3 waves: 700 roots, 700 waiting for one each, 700 more.
            var phases: [String] = []
            for index in 0..<2100 {
                let wait = index >= 700 ? #", "spec": {"waitFor": {"phases": ["p\#(index - 700)"]}}"# : ""
                phases.append(#"{"kind": "Phase", "id": "p\#(index)"\#(wait)}"#)
            }
            try await server.plan(manifest(phases), "wait=true")
            let answer = try await server.get("/graph.svg")
            #expect(answer.status == 200, "\(answer)")
            #expect(answer.header("x-planter-graph") == "collapsed")
            let svg = answer.text
            #expect(!svg.contains("data-phase="))
            for wave in 1...3 {
                #expect(svg.contains("data-wave=\"\(wave)\" data-count=\"700\""), "wave \(wave)")
            }
            #expect(svg.contains("data-status=\"succeeded\""))
        }
    }
}
