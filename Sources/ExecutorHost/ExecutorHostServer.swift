import Foundation
import PlanterHost
import PlanterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves one plugin over the subprocess protocol: the handshake names the plugin, configure
/// creates the instance, each execute runs on its own thread (so several can be in flight and a
/// cancel is never stuck behind one), cancel sets the call's cancellation flag, and EOF on stdin
/// cancels what is in flight, waits for it, destroys the instance and exits.
enum ExecutorHostServer {
    static let usage = "usage: planter-executor-host PLUGIN.so [--name NAME]"

    static func main(arguments: [String]) -> Never {
        var pluginPath: String?
        var name: String?
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--name":
                guard let value = rest.popFirst() else { fail("--name needs a value\n\(usage)") }
                name = value
            case "-h", "--help":
                StandardOutput.write(usage + "\n")
                exit(0)
            default:
                guard pluginPath == nil, !argument.hasPrefix("-") else { fail("unexpected argument \(argument)\n\(usage)") }
                pluginPath = argument
            }
        }
        guard let pluginPath else { fail(usage) }

        // The protocol gets private copies of stdin and stdout; fd 0 becomes /dev/null and fd 1 goes
        // to stderr, so a plugin that reads stdin or prints cannot corrupt the message stream (what it
        // prints becomes host log lines).
        let input = fcntl(0, F_DUPFD_CLOEXEC, 3)
        let output = fcntl(1, F_DUPFD_CLOEXEC, 3)
        guard input >= 0, output >= 0 else { fail("cannot set up the protocol channel: \(String(cString: strerror(errno)))") }
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 { dup2(null, 0); close(null) }
        dup2(2, 1)

        let plugin: Plugin
        do {
            plugin = try PluginLoader.load(path: pluginPath)
        } catch {
            fail("cannot load \(error.path): \(error.reason)")
        }
        let server = Server(plugin: plugin, instanceName: name ?? plugin.name, output: output)
        server.run(input: input)
        exit(0)
    }

    static func fail(_ message: String) -> Never {
        StandardError.write("planter-executor-host: \(message)\n")
        exit(2)
    }
}

/// The protocol channel to the host: whole lines, one write at a time.
final class MessageWriter: Sendable {
    private let fd: Int32
    private let lock = Mutex(())

    init(fd: Int32) { self.fd = fd }

    func send(_ line: [UInt8]) {
        lock.withLock { _ in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // the host is gone; stdin EOF ends us
                    }
                    offset += written
                }
            }
        }
    }
}

final class Server: @unchecked Sendable {
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
        do {
            guard let object = try JSONParser.parse(line).objectValue else {
                log(nil, .warning, "ignored a message that is not a JSON object")
                return
            }
            message = object
        } catch {
            log(nil, .warning, "ignored a line that is not JSON: \(error)")
            return
        }
        switch message["type"]?.stringValue {
        case "configure":
            configure(message["config"] ?? .object(JSONObject()))
        case "execute":
            guard let id = message["id"]?.stringValue, let request = message["request"] else {
                log(nil, .error, "execute message without id or request")
                return
            }
            execute(id: id, request: request)
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

    private func execute(id: String, request: JSON) {
        let writer = self.writer
        guard let executor else {
            writer.send(SubprocessProtocol.resultMessage(id: id, result: .failed("executor host is not configured")))
            return
        }
        var requestWriter = JSONWriter(capacity: 512)
        requestWriter.write(request)
        let requestJSON = requestWriter.bytes
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
            let result = executor.execute(requestJSON: requestJSON, call: call)
            for (stream, data) in text.flush() {
                writer.send(SubprocessProtocol.outputMessage(id: id, stream: stream, data: data))
            }
            _ = inFlight.withLock { $0.removeValue(forKey: id) }
            writer.send(SubprocessProtocol.resultMessage(id: id, result: result))
            idle.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func log(_ id: String?, _ level: LogLevel, _ message: String) {
        writer.send(SubprocessProtocol.logMessage(id: id, level: level, message: message))
    }
}

/// Turns output chunks into text without splitting UTF-8 sequences: an incomplete sequence at
/// the end of a chunk waits for the next one (invalid bytes become U+FFFD).
final class OutputText: Sendable {
    private let pending = Mutex<[OutputChannel: [UInt8]]>([:])

    func append(_ stream: OutputChannel, _ bytes: UnsafeRawBufferPointer) -> String? {
        pending.withLock { pending -> String? in
            var data = pending[stream] ?? []
            data.append(contentsOf: bytes)
            let complete = Self.completePrefix(data)
            pending[stream] = Array(data[complete...])
            return complete > 0 ? String(decoding: data[..<complete], as: UTF8.self) : nil
        }
    }

    func flush() -> [(OutputChannel, String)] {
        pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.filter { !$0.value.isEmpty }.map { ($0.key, String(decoding: $0.value, as: UTF8.self)) }
        }
    }

    /// The length of `data` without an unfinished multi-byte sequence at its end.
    static func completePrefix(_ data: [UInt8]) -> Int {
        var index = data.count - 1
        var continuation = 0
        while index >= 0 && continuation < 3 && data[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return data.count }
        let lead = data[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > continuation + 1 ? index : data.count
    }
}

/// Blocking reads of newline-terminated lines from a descriptor.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            if eof {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
            } else if n == 0 || errno != EINTR {
                eof = true
            }
        }
    }
}
