import PlanterCore
import PlanterJSON
import ProcessSupport

#if canImport(Glibc)
import Glibc
#endif

/// The executor's side of the conversation: stdout lines are protocol messages (handshake,
/// configured, output, log, result), stderr lines become log events. Runs on the I/O thread.
extension ExecutorProcess {
    func processStdoutLines(final: Bool) {
        var start = 0
        while let newline = stdoutBuffer[start...].firstIndex(of: 0x0A) {
            handleLine(start, newline)
            start = newline + 1
        }
        if final && start < stdoutBuffer.count {
            handleLine(start, stdoutBuffer.count)
            start = stdoutBuffer.count
        }
        if start > 0 { stdoutBuffer.removeFirst(start) }
        if stdoutBuffer.count > SubprocessProtocol.maximumLineBytes {
            stdoutBuffer.removeAll()
            protocolViolation("sent a message line longer than \(SubprocessProtocol.maximumLineBytes >> 20) MiB")
        }
    }

    func processStderrLines(final: Bool) {
        var start = 0
        while let newline = stderrBuffer[start...].firstIndex(of: 0x0A) {
            stderrLine(String(decoding: stderrBuffer[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        // A very long line without a break is logged in pieces.
        if (final || stderrBuffer.count - start > 16 * 1024) && start < stderrBuffer.count {
            stderrLine(String(decoding: stderrBuffer[start...], as: UTF8.self))
            start = stderrBuffer.count
        }
        if start > 0 { stderrBuffer.removeFirst(start) }
    }

    func stderrLine(_ line: String) {
        var line = line
        if line.hasSuffix("\r") { line.removeLast() }
        guard !line.isEmpty else { return }
        monitor.withLock {
            stderrTail.append(line.count > 300 ? String(line.prefix(300)) + "…" : line)
            if stderrTail.count > 3 { stderrTail.removeFirst() }
        }
        log(.info, line)
    }

    func handleLine(_ start: Int, _ end: Int) {
        var end = end
        if end > start && stdoutBuffer[end - 1] == 0x0D { end -= 1 }
        guard end > start else { return }
        let parsed = stdoutBuffer.withUnsafeBufferPointer { all in
            Result { () throws(JSONParseError) in try JSONParser.parse(UnsafeBufferPointer(rebasing: all[start..<end])) }
        }
        guard case .success(let json) = parsed, let object = json.objectValue,
            let type = object["type"]?.stringValue
        else {
            let text = String(decoding: stdoutBuffer[start..<min(end, start + 200)], as: UTF8.self)
            let starting = monitor.withLock { state == .starting && handshake == nil }
            if starting {
                protocolViolation("did not start with a handshake; its first line was: \(text)")
            } else {
                log(.warning, "ignored a stdout line that is not a protocol message (stdout is for messages; "
                    + "write diagnostics to stderr): \(text)")
            }
            return
        }
        handle(type: type, object)
    }

    func handle(type: String, _ object: JSONObject) {
        monitor.lock()
        if state == .starting && handshake == nil && type != "handshake" {
            monitor.unlock()
            protocolViolation("sent \"\(type)\" before its handshake")
            return
        }
        switch type {
        case "handshake":
            guard state == .starting && handshake == nil else {
                monitor.unlock()
                log(.warning, "ignored a second handshake")
                return
            }
            switch SubprocessProtocol.Handshake.parse(object) {
            case .success(let parsed):
                handshake = parsed
                outbox.append(SubprocessProtocol.configureMessage(config: config))
                monitor.unlock()
            case .failure(.versionMismatch(let version)):
                startError = "executor \(name) speaks subprocess protocol version \(version); this host speaks "
                    + "version \(SubprocessProtocol.version) (command: \(commandLine))"
                requestStopLocked(reason: nil)
                changed.broadcast()
                monitor.unlock()
            case .failure(.malformed(let reason)):
                monitor.unlock()
                protocolViolation(reason)
            }
        case "configured":
            if state == .starting && startError == nil {
                state = .ready
                config = .null  // not needed any more
                changed.broadcast()
            }
            monitor.unlock()
        case "error":
            let message = object["message"]?.stringValue ?? "(no message)"
            if state == .starting {
                startError = "executor \(name) refused its config: \(message)"
                requestStopLocked(reason: nil)
                changed.broadcast()
                monitor.unlock()
            } else {
                monitor.unlock()
                log(.error, message)
            }
        case "output":
            let call = object["id"]?.stringValue.flatMap { pending[$0]?.call }
            monitor.unlock()
            guard let call, let data = object["data"]?.stringValue else { return }
            let stream: OutputChannel = object["stream"]?.stringValue == "stderr" ? .stderr : .stdout
            var text = data
            text.withUTF8 { call.output(stream, UnsafeRawBufferPointer($0)) }
        case "log":
            let id = object["id"]?.stringValue
            let call = id.flatMap { pending[$0]?.call }
            monitor.unlock()
            let level = SubprocessProtocol.logLevel(object["level"]?.stringValue)
            let message = object["message"]?.stringValue ?? ""
            if let call { call.log(level, message) } else if id == nil { log(level, message) }
        case "result":
            guard let id = object["id"]?.stringValue, let pendingCall = pending.removeValue(forKey: id) else {
                monitor.unlock()  // a late answer to a request given up after a cancel
                return
            }
            if let result = object["result"] {
                pendingCall.result = ExecuteResult.decode(result, executor: name)
            } else {
                pendingCall.result = .failed("executor \(name) sent a result message without a result object")
            }
            completedCalls += 1
            changed.broadcast()
            monitor.unlock()
        default:
            monitor.unlock()  // unknown types are ignored: later versions may add some
        }
    }

    /// The executor broke the protocol: its requests fail with `reason`, and it is stopped at once.
    func protocolViolation(_ reason: String) {
        let message = "executor \(name) broke the subprocess protocol: \(reason)"
        log(.error, message)
        monitor.withLock {
            if state == .starting && startError == nil { startError = message + " (command: \(commandLine))" }
            requestStopLocked(reason: message)
            changed.broadcast()
        }
        closeStdin()
        brokeProtocol = true  // the watch starts the escalation this round (ExecutorIO.handle)
    }
}
