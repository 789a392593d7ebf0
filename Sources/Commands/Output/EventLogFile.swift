import Foundation
import PlanterHost
import PlanterJSON
import Synchronization

/// `--events FILE`: every event as one JSON line, buffered and flushed in large writes.
package final class EventLogFile: EventSink {
    private let handle: FileHandle
    private let buffer = Mutex<[UInt8]>([])
    private static let flushSize = 1 << 16

    package init?(path: String) {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path) else { return nil }
        self.handle = handle
    }

    package func receive(_ event: RunEvent) {
        var writer = JSONWriter(capacity: 256)
        event.write(to: &writer)
        writer.bytes.append(0x0A)
        buffer.withLock { buffer in
            buffer += writer.bytes
            // Written under the lock so lines from different threads stay in event order;
            // flushed whenever a phase or the run ends, so `tail -f` follows the run.
            if buffer.count >= Self.flushSize || event.kind == .phaseFinished || event.kind == .runFinished {
                handle.write(Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }

    package func close() {
        buffer.withLock { buffer in
            handle.write(Data(buffer))
            buffer.removeAll()
        }
        try? handle.close()
    }
}
