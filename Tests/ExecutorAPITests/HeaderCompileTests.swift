import Foundation
import Testing

/// The ABI header is the whole contract for plugin authors, in any language that can read C. It must
/// compile cleanly, warnings as errors, as strict C and as C++, with the compilers plugin authors use.
@Suite struct HeaderCompileTests {
    /// A translation unit that includes the header and touches every macro and type, so that the
    /// expansions are checked too, not just the declarations.
    static let probe = """
        #include "planter_executor.h"
        #include "planter_executor.h" /* the include guard must hold */

        static int32_t probe_cancelled(const planter_call *call) { (void)call; return 0; }

        int planter_header_probe(void);
        int planter_header_probe(void) {
            const uint64_t caps = PLANTER_CAP_CONCURRENT_EXECUTE;
            const planter_stream streams[2] = {PLANTER_STREAM_STDOUT, PLANTER_STREAM_STDERR};
            const planter_log_level levels[4] = {PLANTER_LOG_DEBUG, PLANTER_LOG_INFO, PLANTER_LOG_WARNING,
                                                 PLANTER_LOG_ERROR};
            const char *symbol = PLANTER_EXECUTOR_ENTRY_SYMBOL;
            planter_executor_entry_fn entry = planter_executor_entry;
            planter_call call;
            planter_host host;
            call.abi_version = PLANTER_EXECUTOR_ABI_VERSION;
            call.struct_size = (uint32_t)sizeof call;
            call.is_cancelled = probe_cancelled;
            host.abi_version = PLANTER_EXECUTOR_ABI_VERSION;
            host.struct_size = (uint32_t)sizeof host;
            return (int)(caps + (uint64_t)streams[1] + (uint64_t)levels[3]) + (symbol[0] == 'p') +
                   (entry != NULL) + (int)call.struct_size + (int)host.struct_size;
        }
        """

    struct Dialect: Sendable, CustomTestStringConvertible {
        var compiler: String
        var flags: [String]
        var fileName: String
        var testDescription: String { "\(compiler) \(flags.joined(separator: " "))" }
    }

    /// `-c` into a scratch object rather than `-fsyntax-only`: GCC reports some warnings (an unused
    /// `static` in the header, for one) only after the front end, which `-fsyntax-only` never reaches.
    static let strict = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c"]

    static let dialects: [Dialect] = [
        Dialect(compiler: "cc", flags: ["-std=c99", "-Wstrict-prototypes"] + strict, fileName: "probe.c"),
        Dialect(compiler: "cc", flags: ["-std=c11", "-Wstrict-prototypes"] + strict, fileName: "probe.c"),
        Dialect(compiler: "c++", flags: ["-std=c++17"] + strict + ["-x", "c++"], fileName: "probe.cc"),
        // The toolchain's clang is what SwiftPM compiles C targets with.
        Dialect(compiler: "clang", flags: ["-std=c11", "-Wstrict-prototypes"] + strict, fileName: "probe.c"),
        Dialect(compiler: "clang++", flags: ["-std=c++17"] + strict + ["-x", "c++"], fileName: "probe.cc"),
    ]

    @Test(arguments: dialects)
    func headerCompilesWithWarningsAsErrors(_ dialect: Dialect) async throws {
        let scratch = try ScratchDirectory("header")
        defer { scratch.remove() }
        let source = try scratch.write(dialect.fileName, Self.probe)
        let run = try await Tools.run(
            dialect.compiler,
            dialect.flags + ["-I", SourceTree.headerDirectory.path, "-o", scratch.file("probe.o").path, source.path])
        #expect(run.succeeded, "`\(run.command)` exited \(run.status):\n\(run.output)")
        #expect(run.output.isEmpty, "the compiler printed diagnostics:\n\(run.output)")
    }

    /// The control for the test above: the same harness and flags do reject a warning, so a pass
    /// there means the header is clean, not that the check is blind.
    @Test(arguments: [dialects[1], dialects[2]])
    func harnessRejectsAWarning(_ dialect: Dialect) async throws {
        let scratch = try ScratchDirectory("header")
        defer { scratch.remove() }
        let source = try scratch.write(
            dialect.fileName, Self.probe + "\nint planter_probe_unused(void) { int unused; return 0; }\n")
        let run = try await Tools.run(
            dialect.compiler,
            dialect.flags + ["-I", SourceTree.headerDirectory.path, "-o", scratch.file("probe.o").path, source.path])
        #expect(!run.succeeded, "`\(run.command)` accepted an unused variable under -Werror")
        #expect(run.output.contains("unused"))
    }

    /// The header promises "only <stdint.h> and <stddef.h>".
    @Test func headerIncludesOnlyStdintAndStddef() throws {
        let text = try String(contentsOf: SourceTree.header, encoding: .utf8)
        let includes = text.split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("#include") }
        #expect(includes == ["#include <stddef.h>", "#include <stdint.h>"])
    }

    /// The c-echo example must itself be warning-free C99, since it is what plugin authors copy.
    @Test(arguments: [SourceTree.cEchoSource, SourceTree.cEchoScanner])
    func cEchoCompilesAsStrictC99(source: URL) async throws {
        let run = try await Tools.run(
            "cc",
            ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror", "-O2", "-c",
             "-I", SourceTree.headerDirectory.path, "-o", "/dev/null", source.path])
        #expect(run.succeeded, "`\(run.command)` exited \(run.status):\n\(run.output)")
    }
}
