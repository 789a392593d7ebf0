import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where things are in the source tree. `#filePath` of this file is
/// `<root>/Tests/ExecutorAPITests/Support.swift`; the tests read sources from the tree, never
/// build products (those move with `--scratch-path`).
enum SourceTree {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ExecutorAPITests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // root

    static let headerDirectory = root.appendingPathComponent("Sources/ExecutorAPI/include")
    static let header = headerDirectory.appendingPathComponent("planter_executor.h")
    static let cEchoSource = root.appendingPathComponent("Plugins/examples/c-echo/c_echo.c")
    /// The example's JSON scanner, a translation unit of its own.
    static let cEchoScanner = root.appendingPathComponent("Plugins/examples/c-echo/json_scan.c")
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String
}

/// What a finished tool run left behind.
struct ToolRun: Sendable {
    var command: String
    var status: Int32
    var output: String  // stdout and stderr, interleaved

    var succeeded: Bool { status == 0 }
}

enum Tools {
    /// Looks `name` up on PATH, like a shell would.
    static func find(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ToolFailure(description: "\(name) not found on PATH (\(path)); the ABI tests need a C/C++ compiler")
    }

    /// Runs a tool to completion. Uses `terminationHandler`, never `waitUntilExit` (which polls the
    /// run loop in 50 ms slices). Output goes to a file, so a chatty tool cannot block on a full pipe.
    static func run(_ tool: String, _ arguments: [String], in directory: URL? = nil) async throws -> ToolRun {
        let executable = tool.hasPrefix("/") ? tool : try find(tool)
        let logURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("planter-abi-tool-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
            throw ToolFailure(description: "cannot create \(logURL.path)")
        }
        defer { try? FileManager.default.removeItem(at: logURL) }
        let log = try FileHandle(forWritingTo: logURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log

        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                continuation.resume(returning: finished.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try log.close()
        let output = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        let command = ([executable] + arguments).joined(separator: " ")
        return ToolRun(command: command, status: status, output: output)
    }

    /// Runs a tool and fails the test (by throwing) with the tool's output unless it exits 0.
    @discardableResult
    static func mustRun(_ tool: String, _ arguments: [String], in directory: URL? = nil) async throws -> ToolRun {
        let run = try await run(tool, arguments, in: directory)
        guard run.succeeded else {
            throw ToolFailure(description: "`\(run.command)` exited \(run.status):\n\(run.output)")
        }
        return run
    }
}

/// A fresh directory under the temporary directory, removed with `remove()`.
struct ScratchDirectory: Sendable {
    let url: URL

    init(_ label: String = "abi") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("planter-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ name: String, _ text: String) throws -> URL {
        let target = file(name)
        try text.write(to: target, atomically: false, encoding: .utf8)
        return target
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

enum CPlugins {
    /// Builds c-echo exactly as its README says (`cc -shared -fPIC -I Sources/ExecutorAPI/include -o
    /// libplanter-c-echo.so c_echo.c json_scan.c`, run from the repository root), writing into `directory`.
    static func buildCEcho(into directory: ScratchDirectory, fileName: String = "libplanter-c-echo.so") async throws -> URL {
        let output = directory.file(fileName)
        try await Tools.mustRun(
            "cc",
            ["-shared", "-fPIC", "-I", "Sources/ExecutorAPI/include", "-o", output.path,
             "Plugins/examples/c-echo/c_echo.c", "Plugins/examples/c-echo/json_scan.c"],
            in: SourceTree.root)
        return output
    }

    /// Compiles C source text into a shared library named `fileName` in `directory`.
    static func build(_ source: String, named fileName: String, into directory: ScratchDirectory) async throws -> URL {
        let sourceURL = try directory.write(fileName + ".c", source)
        let output = directory.file(fileName)
        try await Tools.mustRun(
            "cc",
            ["-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", SourceTree.headerDirectory.path,
             "-o", output.path, sourceURL.path])
        return output
    }

    /// A minimal plugin whose descriptor fields are spliced in, for fixtures that must be refused.
    static func fixture(abiVersion: String = "PLANTER_EXECUTOR_ABI_VERSION",
                        structSize: String = "(uint32_t)sizeof(planter_executor_plugin)",
                        name: String = "fixture",
                        entryReturnsNull: Bool = false) -> String {
        """
        #include "planter_executor.h"
        #include <stdlib.h>
        #include <string.h>

        static int instance_storage;
        static void *fx_create(const char *config, const planter_host *host, char **error) {
            (void)config; (void)host; (void)error;
            return &instance_storage;
        }
        static char *fx_execute(void *instance, const char *request, size_t length, const planter_call *call) {
            static const char result[] = "{\\"status\\":\\"succeeded\\"}";
            char *copy = (char *)malloc(sizeof result);
            (void)instance; (void)request; (void)length; (void)call;
            if (copy) memcpy(copy, result, sizeof result);
            return copy;
        }
        static void fx_destroy(void *instance) { (void)instance; }
        static void fx_free_string(char *string) { free(string); }

        static const planter_executor_plugin descriptor = {
            \(abiVersion), \(structSize), "\(name)", "0.0.1", "a test fixture", 0,
            fx_create, fx_execute, fx_destroy, fx_free_string,
        };

        const planter_executor_plugin *planter_executor_entry(uint32_t host_abi_version) {
            const int declines = \(entryReturnsNull ? 1 : 0);
            (void)host_abi_version;
            return declines ? NULL : &descriptor;
        }
        """
    }
}
