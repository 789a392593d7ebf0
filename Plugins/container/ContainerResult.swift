import ExecutorKit

/// How a container run's end reads as the phase's result: the container's exit (the runtime
/// reports a signal as 128 + S), why it was killed, or why the runtime could not start it.
enum ContainerResult {
    static func make(_ outcome: ContainerRun.Outcome, timeoutMs: Int?, runtime: Runtime.Kind) -> PluginResult {
        var exitCode: Int?
        var summary = "exit status unknown"
        if let status = outcome.status {
            if status.signal != 0 {
                exitCode = 128 + Int(status.signal)
                summary = "\(runtime.rawValue) killed by signal " + SystemText.signal(status.signal)
            } else {
                let code = Int(status.exit_code)
                exitCode = code
                // The runtime reports a container process killed by signal S as 128 + S.
                summary = code > 128 && code < 128 + 65 ? "killed by signal " + SystemText.signal(Int32(code - 128)) : "exit \(code)"
            }
        }
        switch outcome.ending {
        case .cancelled:
            return .cancelled("cancelled (container killed, \(summary))", exitCode: exitCode)
        case .timedOut:
            return .failed("timed out after \(SystemText.milliseconds(timeoutMs ?? 0)) (container killed, \(summary))", exitCode: exitCode)
        case .requested, nil:
            if exitCode == 0 { return .succeeded("exit 0", exitCode: 0) }
            // A runtime that could not start the container says why on stderr.
            if let reason = runtimeError(outcome.stderrTail) {
                return .failed("\(runtime.rawValue) could not run the container: \(reason)", exitCode: exitCode)
            }
            return .failed(summary, exitCode: exitCode)
        }
    }

    /// runc logs failures as `time="…" level=error msg="…"`; docker as `docker: Error …`.
    static func runtimeError(_ stderr: String) -> String? {
        for line in stderr.split(separator: "\n").reversed() {
            if line.contains("level=error"), let start = line.firstRange(of: "msg=\"") {
                var message = line[start.upperBound...]
                if message.hasSuffix("\"") { message = message.dropLast() }
                return message.replacingOccurrences(of: "\\\"", with: "\"")
            }
            if line.hasPrefix("docker: ") || line.hasPrefix("Error: ") { return String(line) }
        }
        return nil
    }
}

extension Substring {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
