import ExecutorContract
import ExecutorRuntime
import Foundation
import PlanterJSON
import PlanterTestSupport
import Testing

/// Every built-in plugin (and subprocess executors) through the whole contract. One line per
/// executor: its profile (the same JSON an author passes to `planter plugins check --profile`),
/// the checks its profile cannot drive (skipped), and the checks it is known to fail (findings to
/// fix in the plugin; once fixed, the test fails until the line is corrected). Any other failure,
/// or a check skipped that should run, fails the test.
@Suite(.serialized) struct BuiltInContractTests {
    @Test(arguments: Subject.builtIns)
    func keepsTheContract(_ subject: Subject) throws {
        let prepared = try subject.prepare()
        defer { prepared.cleanUp() }
        let report = ExecutorContract.run(prepared.target, profile: try ContractProfile.parse(text: prepared.profile))
        let skipped = Set(report.results.filter { if case .skipped = $0.outcome { true } else { false } }.map(\.name))
        let failed = Set(report.results.filter { $0.outcome.isFailure }.map(\.name))
        #expect(failed == subject.knownFailures, "\(report.table)")
        #expect(skipped == subject.skipped, "\(report.table)")
        #expect(report.results.map(\.name) == ContractCheck.names)
    }
}

/// An executor under test: how to reach it, its profile, and what its profile leaves out.
struct Subject: Sendable, CustomTestStringConvertible {
    var name: String
    var skipped: Set<String> = []
    var knownFailures: Set<String> = []
    var prepare: @Sendable () throws -> Prepared

    var testDescription: String { name }

    struct Prepared {
        var target: ContractTarget
        var profile: String
        var cleanUp: () -> Void = {}
    }

    static let builtIns: [Subject] = [
        Subject(name: "shell") { try plugin("shell", Profiles.shell) },
        Subject(name: "python") { try plugin("python", Profiles.python) },
        Subject(name: "container", prepare: Profiles.container),
        Subject(name: "http", prepare: Profiles.http),
        Subject(name: "native", skipped: ["cancel-during", "time-limit", "outputs-bound"]) { try plugin("native", Profiles.native) },
        Subject(name: "c-echo", skipped: ["bad-payload", "cancel-during", "time-limit", "outputs-bound"],
                knownFailures: []) {
            try plugin("c-echo", Profiles.cEcho)
        },
        Subject(name: "swift-hello", skipped: ["bad-config", "cancel-during", "time-limit", "outputs-bound"],
                knownFailures: []) { try plugin("swift-hello", Profiles.swiftHello) },
        // Subprocess executors: the shell plugin as isolation: process runs it, and a command: program.
        Subject(name: "shell (isolation: process)", skipped: ["bad-request"]) { try isolated("shell", Profiles.shell) },
        // The example Python executor accepts any payload (it echoes whatever it is given).
        Subject(name: "echo_executor.py (command)", skipped: ["bad-request", "bad-payload", "outputs-bound"]) {
            Prepared(target: .command(["python3", SourceTree.path("examples/executors/echo_executor.py")]), profile: Profiles.echo)
        },
    ]

    static func plugin(_ name: String, _ profile: String) throws -> Prepared {
        Prepared(target: .plugin(path: try pluginPath(name)), profile: profile)
    }

    static func isolated(_ name: String, _ profile: String) throws -> Prepared {
        let host = try ExecutorHostLocator.find(environment: ProcessInfo.processInfo.environment).get()
        return Prepared(target: .isolatedPlugin(path: try pluginPath(name), executorHost: host), profile: profile)
    }

    static func pluginPath(_ name: String) throws -> String {
        guard let path = BuiltPlugin.path(name) else { throw Missing(description: "libplanter-\(name).so not found next to the test binary") }
        return path
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}

/// The repository, from this file's path (sources only, never build products).
enum SourceTree {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
