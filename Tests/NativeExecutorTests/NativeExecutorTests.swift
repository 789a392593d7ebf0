import Dispatch
import ExecutorRuntime
import Foundation
import PlanterDocument
import PlanterJSON
import PlanterTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These tests drive the real libplanter-native.so through the host's loader and
// PluginExecutor: libm from the system, and a C library compiled here with `cc`.

@Suite struct NativeExecutorTests {
    @Test func loadsWithMetadata() throws {
        let plugin = try NativeFixture.plugin()
        #expect(plugin.name == "native")
        #expect(plugin.abiVersion == 1)
        #expect(!plugin.concurrentExecute)
        #expect(!plugin.summary.isEmpty)
    }

    @Test func callsCosInLibm() throws {
        let run = try NativeFixture.run([
            "library": "libm.so.6", "symbol": "cos",
            "args": [["type": "double", "value": 0.0]], "returns": "double",
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["return": 1.0])
        #expect(run.stdout == "cos(0.0) -> double = 1\n", "\(run.stdout)")

        let pi = try NativeFixture.run([
            "library": "libm.so.6", "symbol": "cos",
            "args": [["type": "double", "value": .double(Double.pi)]], "returns": ["type": "double"],
        ])
        #expect(pi.result.outputs["return"]?.doubleValue == -1.0, "\(pi.result)")
    }

    @Test func callsPowWithTwoDoubles() throws {
        let run = try NativeFixture.run([
            "library": "libm.so.6", "symbol": "pow",
            "args": [["type": "double", "value": 2], ["type": "double", "value": 0.5]], "returns": "double",
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        let value = try #require(run.result.outputs["return"]?.doubleValue)
        #expect(abs(value - 2.0.squareRoot()) < 1e-15, "\(value)")
    }

    @Test func nonFiniteDoublesBecomeStrings() throws {
        let run = try NativeFixture.run([
            "library": "libm.so.6", "symbol": "log",
            "args": [["type": "double", "value": 0]], "returns": "double",
        ])
        #expect(run.result.outputs["return"] == "-inf", "\(run.result)")
    }

    @Test func callsIntFunctionsOfATestLibrary() throws {
        let library = try NativeFixture.testLibrary()
        let run = try NativeFixture.run([
            "library": .string(library), "symbol": "add",
            "args": [["type": "int", "value": 2], ["type": "int", "value": -7]], "returns": "int",
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["return": -5])
        #expect(run.result.message == "add returned -5")
    }

    @Test func passesAndReturnsInt64() throws {
        let library = try NativeFixture.testLibrary()
        let run = try NativeFixture.run([
            "library": .string(library), "symbol": "mul64",
            "args": [["type": "int64", "value": 3_000_000_000], ["type": "int64", "value": -3]], "returns": "int64",
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["return": -9_000_000_000])
    }

    @Test func passesAndReturnsStrings() throws {
        let library = try NativeFixture.testLibrary()
        let run = try NativeFixture.run([
            "library": .string(library), "symbol": "greeting",
            "args": [["type": "string", "value": "Planter ✓"]], "returns": "string",
        ])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["return": "hello, Planter ✓"])

        let null = try NativeFixture.run([
            "library": .string(library), "symbol": "greeting",
            "args": [["type": "string", "value": nil]], "returns": "string",
        ])
        #expect(null.result.outputs == ["return": "hello, nobody"], "\(null.result)")

        let nullReturn = try NativeFixture.run([
            "library": .string(library), "symbol": "maybe_null", "args": [["type": "bool", "value": true]],
            "returns": "string",
        ])
        #expect(nullReturn.result.outputs == ["return": nil], "\(nullReturn.result)")
    }

    @Test func mixedArgumentsAndBools() throws {
        let library = try NativeFixture.testLibrary()
        let scaled = try NativeFixture.run([
            "library": .string(library), "symbol": "scale",
            "args": [["type": "double", "value": 1.5], ["type": "int64", "value": 4], ["type": "bool", "value": true],
                     ["type": "int", "value": 1]],
            "returns": "double",
        ])
        #expect(scaled.result.outputs == ["return": -7.0], "\(scaled.result)")

        for (number, even) in [(4, true), (7, false)] {
            let run = try NativeFixture.run([
                "library": .string(library), "symbol": "is_even",
                "args": [["type": "int", "value": .int(Int64(number))]], "returns": "bool",
            ])
            #expect(run.result.outputs == ["return": .bool(even)], "\(run.result)")
        }
    }

    @Test func voidFunctionsAndLibraryStateAcrossCalls() throws {
        let library = try NativeFixture.testLibrary()
        let executor = try NativeFixture.executor()
        let before = executor.execute(
            NativeFixture.request(["library": .string(library), "symbol": "count", "returns": "int"]), call: CallContext())
        let bumped = executor.execute(
            NativeFixture.request(["library": .string(library), "symbol": "bump"]), call: CallContext())
        #expect(bumped.status == .succeeded, "\(bumped)")
        #expect(bumped.outputs == ["return": nil])
        let after = executor.execute(
            NativeFixture.request(["library": .string(library), "symbol": "count", "returns": "int"]), call: CallContext())
        // The library is opened once and cached: bump's effect is visible to the next call.
        let first = try #require(before.outputs["return"]?.intValue)
        #expect(after.outputs["return"]?.intValue == first + 1, "\(before) \(after)")
    }

    @Test func failOnNonZeroTurnsAReturnCodeIntoFailure() throws {
        let library = try NativeFixture.testLibrary()
        let failed = try NativeFixture.run([
            "library": .string(library), "symbol": "check", "args": [["type": "int", "value": 3]],
            "returns": "int", "failOnNonZero": true,
        ])
        #expect(failed.result.status == .failed, "\(failed.result)")
        #expect(failed.result.exitCode == 3)
        #expect(failed.result.message == "check returned 3 (failOnNonZero)")
        #expect(failed.result.outputs == ["return": 3])

        let passed = try NativeFixture.run([
            "library": .string(library), "symbol": "check", "args": [["type": "int", "value": 0]],
            "returns": "int", "failOnNonZero": true,
        ])
        #expect(passed.result.status == .succeeded, "\(passed.result)")

        let ignored = try NativeFixture.run([
            "library": .string(library), "symbol": "check", "args": [["type": "int", "value": 3]], "returns": "int",
        ])
        #expect(ignored.result.status == .succeeded, "without failOnNonZero a non-zero return is just a value")
    }

    @Test func libcStrlenBySoname() throws {
        let run = try NativeFixture.run([
            "library": "libc.so.6", "symbol": "strlen", "args": [["type": "string", "value": "planter"]],
            "returns": "int64",
        ])
        #expect(run.result.outputs == ["return": 7], "\(run.result)")
    }

    @Test func missingLibraryIsInvalid() throws {
        let run = try NativeFixture.run(["library": "libplanter-no-such-library.so", "symbol": "f"])
        #expect(run.result.status == .invalid, "\(run.result)")
        #expect(run.result.message.hasPrefix("payload.library: cannot open libplanter-no-such-library.so: "),
                "\(run.result.message)")
        #expect(run.result.message.contains("No such file"), "\(run.result.message)")
    }

    @Test func missingSymbolIsInvalid() throws {
        let run = try NativeFixture.run(["library": "libm.so.6", "symbol": "no_such_function_xyz", "returns": "double"])
        #expect(run.result.status == .invalid, "\(run.result)")
        #expect(run.result.message.hasPrefix("payload.symbol: no_such_function_xyz not found in libm.so.6"),
                "\(run.result.message)")
    }

    @Test func dryRunCallsNothing() throws {
        let run = try NativeFixture.run([
            "library": "libplanter-not-opened.so", "symbol": "add",
            "args": [["type": "int", "value": 1], ["type": "string", "value": "x"]], "returns": "int",
        ], dryRun: true)
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.message == "dry run: would call add(1, \"x\") -> int in libplanter-not-opened.so")
    }

    @Test func librariesAllowListIsEnforced() throws {
        let allowed = try NativeFixture.run(
            ["library": "libm.so.6", "symbol": "cos", "args": [["type": "double", "value": 0]], "returns": "double"],
            config: ["libraries": ["libm.so.6"]])
        #expect(allowed.result.status == .succeeded, "\(allowed.result)")
        let refused = try NativeFixture.run(
            ["library": "libc.so.6", "symbol": "abort"], config: ["libraries": ["libm.so.6"]])
        #expect(refused.result.status == .invalid)
        #expect(refused.result.message.contains("not one of config.libraries"), "\(refused.result.message)")
    }

    @Test func badConfigIsRefused() throws {
        let plugin = try NativeFixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "n", config: ["libraries": "libm.so.6"]) } throws: { error in
            "\(error)".contains("config.libraries")
        }
    }

    @Test(arguments: [
        (JSON.object([:]), "payload needs library"),
        (JSON(["library": "libm.so.6"]), "payload needs symbol"),
        (JSON(["library": 5, "symbol": "cos"]), "payload.library must be a non-empty string"),
        (JSON(["library": "libm.so.6", "symbol": "cos", "args": ["type": "double"]]), "payload.args must be an array"),
        (JSON(["library": "libm.so.6", "symbol": "cos", "args": [0.5]]), "payload.args[0] must be an object"),
        (JSON(["library": "libm.so.6", "symbol": "cos", "args": [["type": "float", "value": 1]]]),
         "payload.args[0].type must be one of int, int64, double, string, bool"),
        (JSON(["library": "libm.so.6", "symbol": "cos", "args": [["value": 1]]]), "payload.args[0].type is missing"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "int", "value": 1], ["type": "int", "value": 3_000_000_000]]]),
         "payload.args[1].value must be an integer from -2147483648 to 2147483647"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "int", "value": 1.5]]]), "payload.args[0].value must be an integer"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "double", "value": "1"]]]), "payload.args[0].value must be a number"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "bool", "value": 1]]]), "payload.args[0].value must be a boolean"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "string", "value": 1]]]), "payload.args[0].value must be a string"),
        (JSON(["library": "l", "symbol": "f", "args": [["type": "void"]]]), "payload.args[0].type must be one of"),
        (JSON(["library": "l", "symbol": "f", "returns": "float"]), "payload.returns must be one of void, int, int64, double, string, bool"),
        (JSON(["library": "l", "symbol": "f", "returns": ["type": 1]]), "payload.returns.type must be one of"),
        (JSON(["library": "l", "symbol": "f", "returns": "double", "failOnNonZero": true]),
         "payload.failOnNonZero needs returns int or int64"),
        (JSON(["library": "l", "symbol": "f", "failOnNonZero": "yes"]), "payload.failOnNonZero must be a boolean"),
        (JSON(["library": "l", "symbol": "f", "arguments": []]), "unknown key \"arguments\""),
        (JSON.string("cos"), "payload must be an object"),
    ])
    func invalidPayloadsNameTheField(payload: JSON, message: String) throws {
        let run = try NativeFixture.run(payload)
        #expect(run.result.status == .invalid, "\(run.result)")
        #expect(run.result.message.contains(message), "\(run.result.message)")
    }
}

// MARK: - Fixture

extension JSON {
    init(_ value: JSON) { self = value }
}

struct NativeRun {
    var result: ExecuteResult
    var stdout: String
}

final class NativeOutput: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    func append(_ chunk: UnsafeRawBufferPointer) { bytes.withLock { $0.append(contentsOf: chunk) } }
    var string: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
}

enum NativeFixture {
    struct Missing: Error, CustomStringConvertible { var description: String }

    /// libplanter-native.so sits in the build products folder, next to the test binary.
    static let pluginPath: String? = BuiltPlugin.path("native")

    static func plugin() throws -> Plugin {
        guard let pluginPath else { throw Missing(description: "libplanter-native.so not found next to the test binary") }
        return try PluginLoader.load(path: pluginPath)
    }

    static func executor(config: JSON = [:]) throws -> PluginExecutor {
        try plugin().makeExecutor(name: "native", config: config)
    }

    static func request(_ payload: JSON, dryRun: Bool = false) -> ExecuteRequest {
        ExecuteRequest(runId: "r-test", phaseId: "p", executor: "native", payload: payload, dryRun: dryRun)
    }

    static func run(_ payload: JSON, config: JSON = [:], dryRun: Bool = false) throws -> NativeRun {
        let executor = try executor(config: config)
        let output = NativeOutput()
        let context = CallContext(output: { _, bytes in output.append(bytes) })
        let result = executor.execute(request(payload, dryRun: dryRun), call: context)
        return NativeRun(result: result, stdout: output.string)
    }

    /// The test library, compiled once per test process with `cc -shared -fPIC`.
    static func testLibrary() throws -> String { try compiled.get() }

    private static let compiled: Result<String, Missing> = {
        var template = Array("/tmp/planter-native-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return .failure(Missing(description: "mkdtemp failed")) }
        let dir = String(cString: made)
        let source = dir + "/testlib.c"
        let library = dir + "/libplanter-testlib.so"
        do {
            try testLibrarySource.write(toFile: source, atomically: true, encoding: .utf8)
        } catch {
            return .failure(Missing(description: "cannot write \(source): \(error)"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-O1", "-o", library, source]
        let errors = Pipe()
        process.standardError = errors
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do {
            try process.run()
        } catch {
            return .failure(Missing(description: "cannot run cc: \(error)"))
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        guard done.wait(timeout: .now() + 60) == .success else {
            process.terminate()
            return .failure(Missing(description: "cc did not finish in 60 s"))
        }
        guard process.terminationStatus == 0 else {
            return .failure(Missing(description: "cc failed (\(process.terminationStatus)): "
                + String(decoding: message, as: UTF8.self)))
        }
        return .success(library)
    }()

    static let testLibrarySource = #"""
        #include <stdbool.h>
        #include <stdint.h>
        #include <stdio.h>

        int add(int a, int b) { return a + b; }
        int64_t mul64(int64_t a, int64_t b) { return a * b; }
        const char *greeting(const char *name) {
            static __thread char buffer[128];
            snprintf(buffer, sizeof buffer, "hello, %s", name ? name : "nobody");
            return buffer;
        }
        const char *maybe_null(bool give_null) { return give_null ? NULL : "not null"; }
        int check(int code) { return code; }
        bool is_even(int n) { return n % 2 == 0; }
        double scale(double x, int64_t factor, bool negate, int extra) {
            double r = x * (double)factor + extra;
            return negate ? -r : r;
        }
        static int counter;
        void bump(void) { counter++; }
        int count(void) { return counter; }
        """#
}
