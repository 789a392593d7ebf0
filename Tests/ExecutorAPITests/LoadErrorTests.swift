import ExecutorRuntime
import Foundation
import PlanterJSON
import Testing

/// Broken plugins are reported with a message that says what is wrong, and the host keeps going.
/// Every fixture is written and compiled by the test.
@Suite struct LoadErrorTests {
    /// Loads `path`, expecting a PluginFailure; returns its reason.
    func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            let plugin = try PluginLoader.load(path: path)
            Issue.record("loaded \(path) as plugin \"\(plugin.name)\"; expected a load error",
                         sourceLocation: sourceLocation)
            return ""
        } catch {
            #expect(error.path == path, sourceLocation: sourceLocation)
            #expect(!error.reason.isEmpty, sourceLocation: sourceLocation)
            return error.reason
        }
    }

    /// The integers mentioned in a message, as whole numbers ("version 999" → 999).
    func numbers(in message: String) -> Set<Int> {
        Set(message.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) })
    }

    @Test func abiVersionMismatchNamesBothVersions() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(
            CPlugins.fixture(abiVersion: "999u"), named: "libplanter-future.so", into: scratch)
        let reason = loadError(path.path)
        #expect(numbers(in: reason).isSuperset(of: [999, Int(planterABIVersion)]), "\(reason)")
        #expect(reason.localizedCaseInsensitiveContains("version"), "\(reason)")
    }

    /// The control: the very same fixture with the host's version loads and runs, so the refusal
    /// above is about the version and nothing else.
    @Test func fixtureWithTheRightVersionLoads() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(CPlugins.fixture(), named: "libplanter-fixture.so", into: scratch)
        let plugin = try PluginLoader.load(path: path.path)
        #expect(plugin.name == "fixture")
        #expect(plugin.abiVersion == planterABIVersion)
        #expect(!plugin.concurrentExecute)
        let result = try plugin.makeExecutor(name: "fx").execute(
            ExecuteRequest(runId: "r", phaseId: "p", executor: "fx"), call: CallContext())
        #expect(result.status == .succeeded)
    }

    @Test func entryReturningNullIsRefused() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(
            CPlugins.fixture(entryReturnsNull: true), named: "libplanter-declines.so", into: scratch)
        let reason = loadError(path.path)
        #expect(numbers(in: reason).contains(Int(planterABIVersion)), "\(reason)")
    }

    @Test func descriptorSmallerThanVersion1IsRefused() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(
            CPlugins.fixture(structSize: "16u"), named: "libplanter-small.so", into: scratch)
        let reason = loadError(path.path)
        #expect(numbers(in: reason).contains(16), "\(reason)")
    }

    @Test func invalidPluginNameIsRefused() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(
            CPlugins.fixture(name: "Not A Name"), named: "libplanter-badname.so", into: scratch)
        let reason = loadError(path.path)
        #expect(reason.contains("Not A Name"), "\(reason)")
    }

    @Test func libraryWithoutTheEntrySymbolIsRefused() async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = try await CPlugins.build(
            "int planter_not_the_entry(void);\nint planter_not_the_entry(void) { return 1; }\n",
            named: "libplanter-noentry.so", into: scratch)
        let reason = loadError(path.path)
        #expect(reason.contains("planter_executor_entry"), "\(reason)")
    }

    enum NotALibrary: String, CaseIterable, Sendable {
        case text, empty, truncatedELF, directory, missing
    }

    @Test(arguments: NotALibrary.allCases)
    func nonLibraryFileIsALoadErrorNotACrash(_ kind: NotALibrary) async throws {
        let scratch = try ScratchDirectory("abi")
        defer { scratch.remove() }
        let path = scratch.file("libplanter-\(kind.rawValue).so")
        switch kind {
        case .text:
            try "#!/bin/sh\necho this is not a library\n".write(to: path, atomically: false, encoding: .utf8)
        case .empty:
            #expect(FileManager.default.createFile(atPath: path.path, contents: Data()))
        case .truncatedELF:
            // The first 200 bytes of a real plugin: a valid ELF header whose segments are missing.
            let real = try await CPlugins.buildCEcho(into: scratch, fileName: "whole.so")
            try Data(try Data(contentsOf: real).prefix(200)).write(to: path)
        case .directory:
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: false)
        case .missing:
            break
        }
        let reason = loadError(path.path)
        if kind == .missing {
            #expect(reason.localizedCaseInsensitiveContains("no such file"), "\(reason)")
        } else {
            #expect(!reason.contains("planter_executor_entry"), "should fail at dlopen, not later: \(reason)")
        }
    }

    /// Discovery loads the good plugin and lists every bad one with its reason, without stopping.
    @Test func discoveryReportsBadPluginsAndKeepsTheGoodOnes() async throws {
        let scratch = try ScratchDirectory("discover")
        defer { scratch.remove() }
        _ = try await CPlugins.buildCEcho(into: scratch)
        _ = try await CPlugins.build(CPlugins.fixture(abiVersion: "999u"), named: "libplanter-future.so", into: scratch)
        _ = try await CPlugins.build("int planter_nothing;\n", named: "libplanter-noentry.so", into: scratch)
        _ = try scratch.write("libplanter-text.so", "not a library\n")
        _ = try scratch.write("README.txt", "ignored: not named libplanter-*.so\n")

        let catalog = PluginCatalog.discover(in: [scratch.url.path, scratch.file("does-not-exist").path])

        #expect(catalog.plugins.map(\.name) == ["c-echo"])
        let failed = Set(catalog.failures.map { URL(fileURLWithPath: $0.path).lastPathComponent })
        #expect(failed == ["libplanter-future.so", "libplanter-noentry.so", "libplanter-text.so"])
        let future = catalog.failures.first { $0.path.hasSuffix("libplanter-future.so") }
        #expect(future.map { numbers(in: $0.reason).isSuperset(of: [999, 1]) } == true, "\(String(describing: future))")
        #expect(catalog.plugin(named: "c-echo") != nil)
    }
}
