#if canImport(Glibc)
import Glibc
#endif

/// Bytes queued for a non-blocking descriptor (a child's stdin, a job channel), written as
/// far as it takes them whenever poll() says it is writable: a slow reader never blocks the
/// thread that also has to read the child's output. Poll the descriptor for `events`.
public struct Outbox: Sendable {
    private var bytes: [UInt8] = []
    /// How much of `bytes` is written; the rest is dropped from the front once all is out.
    private var sent = 0
    private let socket: Bool

    /// `socket`: the descriptor is a socket, written with send(MSG_NOSIGNAL), so a peer that
    /// has gone gives EPIPE and not a SIGPIPE to the whole process. Write to a pipe only
    /// from a thread that blocks SIGPIPE.
    public init(socket: Bool = false) { self.socket = socket }

    public var isEmpty: Bool { sent == bytes.count }

    /// POLLOUT while something is queued, else nothing.
    public var events: Int16 { isEmpty ? 0 : Int16(POLLOUT) }

    public mutating func append(_ message: some Sequence<UInt8>) { bytes.append(contentsOf: message) }

    /// Drops what is queued (the descriptor was closed).
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        sent = 0
    }

    /// Writes as much as `fd` takes now. Returns false when it is broken (EPIPE and the
    /// like: the reader has gone); what was queued stays queued.
    public mutating func flush(to fd: Int32) -> Bool {
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                let rest = UnsafeRawBufferPointer(rebasing: raw[sent...])
                return socket
                    ? send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    : write(fd, rest.baseAddress, rest.count)
            }
            if n > 0 {
                sent += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true  // the rest goes out when poll says it is writable
            } else {
                return false
            }
        }
        removeAll()
        return true
    }
}
