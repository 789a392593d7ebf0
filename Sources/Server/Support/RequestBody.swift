import Hummingbird
import NIOCore
import PlanterDocument
import PlanterHost
import PlanterJSON

/// Reads a manifest body: checks the content type (415) and size (413), then parses JSON
/// straight from the received bytes (no copy) or YAML, with line and column on failure.
enum ManifestBody {
    enum Format {
        case json
        case yaml
    }

    static func format(of request: Request) throws(APIError) -> Format {
        guard let header = request.headers[.contentType] else { throw APIError.unsupportedMediaType(nil) }
        // The usual spellings first, without allocating.
        if header == "application/json" || header == "application/vnd.phase-manifest+json" { return .json }
        let mediaType = header.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch mediaType {
        case "application/vnd.phase-manifest+json", "application/json": return .json
        case "application/yaml", "application/x-yaml", "text/yaml", "application/vnd.phase-manifest+yaml": return .yaml
        default: throw APIError.unsupportedMediaType(header)
        }
    }

    static func read(_ request: Request, limit: Int) async throws -> JSON {
        let format = try format(of: request)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError.tooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: limit)
        }
        guard buffer.readableBytes > 0 else { throw APIError.malformed("the request body is empty; send a manifest") }
        switch format {
        case .json:
            let parsed: Result<JSON, JSONParseError> = buffer.withUnsafeReadableBytes { raw in
                do throws(JSONParseError) {
                    return .success(try JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self)))
                } catch {
                    return .failure(error)
                }
            }
            switch parsed {
            case .success(let json): return json
            case .failure(let error): throw APIError.malformed(error.description)
            }
        case .yaml:
            switch DocumentParser.parse(Array(buffer.readableBytesView), format: .yaml) {
            case .success(let json): return json
            case .failure(let failure):
                // A YAML value JSON cannot hold (`.inf`) has a pointer: keep it in the details.
                guard let problem = failure.problems.first else { throw APIError.malformed("invalid YAML") }
                var error = APIError.malformed(problem.message)
                error.details = failure.problems.map { APIError.Detail(path: $0.path, message: $0.message, severity: $0.severity) }
                throw error
            }
        }
    }
}
