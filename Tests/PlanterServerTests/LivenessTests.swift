import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /health` is answered on the event loop (LivenessHandler) unless an earlier request of the
/// connection still waits for its answer: HTTP/1.1 answers keep the order of the requests.
@Suite struct LivenessTests {
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer { server, _ in
            // /status (router), /health (here), an unknown route (router, 404), /health twice, the last with
            // Connection: close, which the server honours by closing after it.
            let requests = ["/status", "/health", "/nope", "/health"].map { "GET \($0) HTTP/1.1\r\nHost: test\r\n\r\n" }
                + ["GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"]
            let reply = try RawHTTP.exchange(port: server.port, send: requests.joined())
            let statuses = RawHTTP.statusLines(reply)
            #expect(statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"],
                    "\(reply)")
            // The bodies in the order of the requests: status, health, the 404, health, health.
            let marks = ["\"activeRunId\"", "{\"status\":\"ok\"", "\"code\":\"notFound\"", "{\"status\":\"ok\""]
            var rest = reply[...]
            for mark in marks {
                guard let found = rest.range(of: mark) else {
                    Issue.record("\(mark) missing or out of order in \(reply)")
                    break
                }
                rest = rest[found.upperBound...]
            }
            #expect(reply.components(separatedBy: "{\"status\":\"ok\"").count - 1 == 3, "\(reply)")
        }
    }

    @Test func healthWithAQueryOrUnderThePrefixStillAnswers() async throws {
        try await withServer(environment: ["PLANTER_PREFIX": "/api"]) { server, _ in
            let reply = try RawHTTP.exchange(port: server.port, send: "GET /api/health?probe=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                + "GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /api/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let statuses = RawHTTP.statusLines(reply)
            #expect(statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"], "\(reply)")
        }
    }
}

/// Bytes written as they are on one TCP connection, everything read until the server closes it.
enum RawHTTP {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// The status lines in order (a body is not followed by a line break, so split on the version).
    static func statusLines(_ reply: String) -> [String] {
        reply.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + ($0.components(separatedBy: "\r\n").first ?? "") }
    }

    static func exchange(port: Int, send text: String, timeoutSeconds: Int = 10) throws -> String {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socketFD) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(socketFD, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure(description: "write: \(errno)") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(socketFD, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw Failure(description: "read: errno \(errno) after \(received.count) bytes: \(String(decoding: received, as: UTF8.self))") }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
