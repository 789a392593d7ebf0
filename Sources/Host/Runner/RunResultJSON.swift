import PlanterJSON

/// The canonical JSON of run results, shared by the CLI (`--output json`) and the API.
extension RunResult {
    public var json: JSON {
        var object = head
        object.appendUnchecked("phases", .array(phases.map(\.json)))
        return .object(object)
    }

    /// The compact form of `json`, byte for byte, written phase by phase: `emit` receives the bytes
    /// whenever `chunkBytes` are waiting, so a 100,000-phase result never exists as one tree or one buffer.
    public func writeCompactJSON(chunkBytes: Int = 1 << 16, emit: ([UInt8]) -> Void) {
        var writer = JSONWriter(capacity: chunkBytes + 4096)
        writer.write(.object(head))
        writer.bytes.removeLast()  // the head's closing brace: the phases come last
        writer.writeRaw(",\"phases\":[")
        for index in phases.indices {
            if index > 0 { writer.comma() }
            writer.write(phases[index].json)
            if writer.bytes.count >= chunkBytes {
                emit(writer.bytes)
                writer.bytes.removeAll(keepingCapacity: true)
            }
        }
        writer.writeRaw("]}")
        emit(writer.bytes)
    }

    /// Every field of `json` but the phases.
    private var head: JSONObject {
        var object = JSONObject()
        object.appendUnchecked("runId", .string(runId))
        object.appendUnchecked("status", .string(status.rawValue))
        object.appendUnchecked("startedAt", .string(startedAt.iso8601))
        object.appendUnchecked("endedAt", .string(endedAt.iso8601))
        object.appendUnchecked("durationMs", .int(durationMs))
        if let failedPhase { object.appendUnchecked("failedPhase", .string(failedPhase)) }
        var summary = JSONObject()
        for status in PhaseStatus.allCases {
            let count = count(status)
            if count > 0 { summary.appendUnchecked(status.rawValue, .int(Int64(count))) }
        }
        object.appendUnchecked("summary", .object(summary))
        return object
    }
}

extension PhaseRecord {
    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("id", .string(id))
        object.appendUnchecked("status", .string(status.rawValue))
        object.appendUnchecked("executor", .string(executor))
        object.appendUnchecked("plugin", .string(plugin))
        if !message.isEmpty { object.appendUnchecked("message", .string(message)) }
        if let startedAt { object.appendUnchecked("startedAt", .string(startedAt.iso8601)) }
        if let endedAt { object.appendUnchecked("endedAt", .string(endedAt.iso8601)) }
        object.appendUnchecked("attempts", .array(attempts.map(\.json)))
        if !labels.isEmpty { object.appendUnchecked("labels", labels.json) }
        object.appendUnchecked("outputs", .object(outputs))
        object.appendUnchecked("output", .string(output.text))
        if output.droppedBytes > 0 { object.appendUnchecked("outputDroppedBytes", .int(Int64(output.droppedBytes))) }
        return .object(object)
    }
}

extension AttemptRecord {
    public var json: JSON {
        var object = JSONObject()
        object.appendUnchecked("attempt", .int(Int64(attempt)))
        object.appendUnchecked("status", .string(status.rawValue))
        object.appendUnchecked("startedAt", .string(startedAt.iso8601))
        if let endedAt { object.appendUnchecked("endedAt", .string(endedAt.iso8601)) }
        if let durationMs { object.appendUnchecked("durationMs", .int(durationMs)) }
        if let exitCode { object.appendUnchecked("exitCode", .int(Int64(exitCode))) }
        if !message.isEmpty { object.appendUnchecked("message", .string(message)) }
        if let worker { object.appendUnchecked("worker", .string(worker)) }
        return .object(object)
    }
}
