import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON
import Synchronization

/// Serves one plugin over the subprocess protocol: the handshake names the plugin, configure
/// creates the instance, each execute runs on its own thread (so several can be in flight and a
/// cancel is never stuck behind one), cancel sets the call's cancellation flag, and EOF on stdin
/// cancels what is in flight, waits for it, destroys the instance and exits. Requests and
/// results pass through as the bytes they were: nothing is decoded and encoded again.
final class PluginSession: @unchecked Sendable {
    // @unchecked: `executor` is set once by the reading thread before any request thread starts.
    let plugin: Plugin
    let instanceName: String
    let writer: MessageWriter
    private var executor: PluginExecutor?
    /// Calls in flight, by request id, for cancel.
    private let inFlight = Mutex<[String: CallContext]>([:])
    private let idle = DispatchGroup()

    init(plugin: Plugin, instanceName: String, output: Int32) {
        self.plugin = plugin
        self.instanceName = instanceName
        writer = MessageWriter(fd: output)
    }

    func run(input: Int32) {
        writer.send(SubprocessProtocol.handshakeMessage(SubprocessProtocol.Handshake(
            name: plugin.name, version: plugin.version, concurrent: plugin.concurrentExecute,
            description: plugin.summary.isEmpty ? nil : plugin.summary)))
        var reader = LineReader(fd: input)
        while let line = reader.next() {
            handle(line)
        }
        // stdin closed: the host wants us gone. Stop what runs, let it answer, then leave.
        let calls = inFlight.withLock { Array($0.values) }
        for call in calls { call.cancel(reason: "executor host stopping") }
        _ = idle.wait(timeout: .now() + 10)
        executor = nil
    }

    private func handle(_ line: [UInt8]) {
        guard !line.isEmpty else { return }
        let message: JSONObject
        let spans: [String: Range<Int>]
        do {
            (message, spans) = try line.withUnsafeBufferPointer { bytes in
                try Result { () throws(JSONParseError) in try JSONParser.parseObjectKeepingSpans(bytes) }.get()
            }
        } catch {
            log(nil, .warning, "ignored a line that is not a JSON object: \(error)")
            return
        }
        switch message["type"]?.stringValue {
        case "configure":
            configure(message["config"] ?? .object(JSONObject()))
        case "execute":
            guard let id = message["id"]?.stringValue, let request = spans["request"] else {
                log(nil, .error, "execute message without id or request")
                return
            }
            execute(id: id, requestJSON: Array(line[request]))
        case "cancel":
            if let id = message["id"]?.stringValue {
                inFlight.withLock { $0[id] }?.cancel(reason: "cancelled by the host")
            }
        default:
            break  // unknown types are ignored
        }
    }

    private func configure(_ config: JSON) {
        guard executor == nil else {
            writer.send(SubprocessProtocol.errorMessage("already configured"))
            return
        }
        let writer = self.writer
        do {
            executor = try plugin.makeExecutor(name: instanceName, config: config, log: { level, message in
                writer.send(SubprocessProtocol.logMessage(id: nil, level: level, message: message))
            })
            writer.send(SubprocessProtocol.configuredMessage())
        } catch {
            writer.send(SubprocessProtocol.errorMessage(error.reason))
        }
    }

    private func execute(id: String, requestJSON: [UInt8]) {
        let writer = self.writer
        guard let executor else {
            writer.send(SubprocessProtocol.resultMessage(id: id, result: .failed("executor host is not configured")))
            return
        }
        let text = OutputText()
        let call = CallContext(
            output: { stream, bytes in
                if let data = text.append(stream, bytes) {
                    writer.send(SubprocessProtocol.outputMessage(id: id, stream: stream, data: data))
                }
            },
            log: { level, message in writer.send(SubprocessProtocol.logMessage(id: id, level: level, message: message)) })
        inFlight.withLock { $0[id] = call }
        idle.enter()
        let thread = Thread { [self] in
            let result = executor.executeForwarding(requestJSON: requestJSON, call: call)
            for (stream, data) in text.flush() {
                writer.send(SubprocessProtocol.outputMessage(id: id, stream: stream, data: data))
            }
            _ = inFlight.withLock { $0.removeValue(forKey: id) }
            writer.send(SubprocessProtocol.resultMessage(id: id, resultJSON: result))
            idle.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func log(_ id: String?, _ level: LogLevel, _ message: String) {
        writer.send(SubprocessProtocol.logMessage(id: id, level: level, message: message))
    }
}
