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
}

private func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
