import Hummingbird
import NIOCore
import PlanterJSON

/// Builds JSON answers: one direct write into a byte buffer, no Foundation, no Codable.
enum Reply {
    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    static func json(_ value: JSON, status: HTTPResponse.Status = .ok, capacity: Int = 1024) -> Response {
        var writer = JSONWriter(capacity: capacity)
        writer.write(value)
        return bytes(writer.bytes, status: status)
    }

    static func bytes(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = jsonHeaders) -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
