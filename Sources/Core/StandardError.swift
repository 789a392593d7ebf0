#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to standard error and standard output, safe from any thread
/// (a single write(2) per call, so lines from different threads do not interleave).
public enum StandardError {
    public static func write(_ text: String) { writeAll(2, text) }
}

public enum StandardOutput {
    public static func write(_ text: String) { writeAll(1, text) }
    public static func write(bytes: [UInt8]) { bytes.withUnsafeBufferPointer { writeAll(1, $0) } }
}

private func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { writeAll(fd, $0) }
}

private func writeAll(_ fd: Int32, _ buffer: UnsafeBufferPointer<UInt8>) {
    guard let base = buffer.baseAddress else { return }
    var offset = 0
    while offset < buffer.count {
        let written = Glibc.write(fd, base + offset, buffer.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
