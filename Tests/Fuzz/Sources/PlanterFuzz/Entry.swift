#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's entry points. There is no main.swift: the `-sanitize=fuzzer` runtime supplies
// `main`, parses the libFuzzer flags and calls these. One binary serves every target (a build
// costs minutes here); PLANTER_FUZZ_TARGET picks which, so each target keeps a corpus of plain
// documents (`corpus/manifest/hello.yaml`) instead of inputs prefixed with a selector byte.

nonisolated(unsafe) private var target: FuzzTarget = .manifest

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> Int32 {
    let name = getenv("PLANTER_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let chosen = FuzzTarget(rawValue: name) else {
        let known = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        let message = "planter-fuzz: set PLANTER_FUZZ_TARGET to one of: \(known) (got \"\(name)\")\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        exit(2)
    }
    target = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    target.run(bytes)
    return 0
}
