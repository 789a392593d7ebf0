// A minimal executor in Swift: greets whoever the payload names and hands the greeting to
// the phases that wait for it. Build: `swift build --product planter-swift-hello`.
import ExecutorKit

struct HelloExecutor: ExecutorPlugin {
    static let name = "swift-hello"
    static let version = "1.0.0"
    static let summary: String? = "Example: says hello"
    static let concurrentExecute = true

    let greeting: String

    init(config: JSON, host: PluginHost) throws {
        greeting = config["greeting"]?.stringValue ?? "Hello"
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        // A call cancelled before it starts must not run (the contract's cancel-before check).
        if call.isCancelled { return .cancelled("cancelled before it started") }
        guard let name = request.payload["name"]?.stringValue else { return .invalid("payload.name must be a string") }
        let text = "\(greeting), \(name)!"
        // A dry run checks the request and does nothing: no output, no outputs.
        if request.dryRun { return .succeeded("dry run: would say \"\(text)\"") }
        call.output(.stdout, text + "\n")
        return .succeeded(text, outputs: ["greeting": .string(text)])
    }
}

@_cdecl("planter_executor_entry")
public func planterExecutorEntry(_ hostABI: UInt32) -> UnsafeRawPointer? {
    ExecutorEntry.descriptor(for: HelloExecutor.self, hostABI: hostABI)
}
