import ExecutorKit

/// The native executor: calls a C function in a shared library through libffi, with the
/// argument and return types the payload declares. See README.md, and its warning: the
/// declared signature is trusted, and a wrong one can crash the process.
final class NativePlugin: ExecutorPlugin {
    static let name = "native"
    static let version = "1.0.0"
    static let summary: String? = "Calls a C function in a shared library through libffi"
    /// C functions of unknown thread safety: the host serialises calls per instance.
    static let concurrentExecute = false

    /// When set (config.libraries), the only libraries a payload may name.
    let allowedLibraries: [String]?

    init(config: JSON, host: PluginHost) throws {
        guard let object = config.objectValue else {
            throw PluginError("executor config must be an object, got \(config.typeName)")
        }
        var allowed: [String]?
        for member in object {
            switch member.key {
            case "libraries":
                if member.value.isNull { continue }
                let strings = member.value.arrayValue?.compactMap(\.stringValue) ?? []
                guard strings.count == member.value.arrayValue?.count, !strings.contains(where: \.isEmpty) else {
                    throw PluginError("config.libraries must be an array of library paths or sonames")
                }
                allowed = strings
            default:
                throw PluginError("config has an unknown key \"\(member.key)\" (known: libraries)")
            }
        }
        allowedLibraries = allowed
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        let native: NativeCall
        switch NativeCall.parse(request.payload) {
        case .success(let parsed): native = parsed
        case .failure(let error): return .invalid(error.message)
        }
        if let allowedLibraries, !allowedLibraries.contains(native.library) {
            return .invalid("payload.library \(native.library) is not one of config.libraries "
                + "(\(allowedLibraries.joined(separator: ", ")))")
        }
        if request.dryRun { return .succeeded("dry run: would call \(native.signature) in \(native.library)") }
        if call.isCancelled { return .cancelled("cancelled before calling \(native.symbol)") }

        let function: UnsafeMutableRawPointer
        switch Libraries.open(native.library).flatMap({ Libraries.symbol(native.symbol, in: $0, library: native.library) }) {
        case .success(let address): function = address
        case .failure(let error): return .invalid(error.message)
        }

        let value: JSON
        switch FFI.invoke(function, native) {
        case .success(let returned): value = returned
        case .failure(let error): return .invalid(error.message)
        }
        var outputs = JSONObject()
        outputs.append("return", value)
        let summary = native.returns == .void ? "\(native.signature) returned" : "\(native.signature) = \(value.serialized)"
        call.output(.stdout, summary + "\n")

        if native.failOnNonZero, let code = value.intValue, code != 0 {
            return PluginResult(status: .failed, exitCode: code,
                                message: "\(native.symbol) returned \(code) (failOnNonZero)", outputs: outputs)
        }
        return .succeeded(native.returns == .void ? "\(native.symbol) returned" : "\(native.symbol) returned \(value.serialized)",
                          outputs: outputs)
    }
}
