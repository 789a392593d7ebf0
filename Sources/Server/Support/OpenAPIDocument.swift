import Foundation
import NIOCore

/// The OpenAPI document shipped as the module's resource (`openapi.yaml`), read once at start-up.
struct OpenAPIDocument: Sendable {
    let bytes: ByteBuffer?
    let problem: String?

    static func load() -> OpenAPIDocument {
        // SwiftPM's Bundle.module stops the process when the resource bundle is missing (a
        // binary copied without it), so check for the bundle next to the binary first.
        let bundle = Bundle.main.bundleURL.appendingPathComponent("planter_PlanterServer.resources")
        guard FileManager.default.fileExists(atPath: bundle.path),
            let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = FileManager.default.contents(atPath: url.path)
        else {
            return OpenAPIDocument(bytes: nil, problem: "openapi.yaml is not installed: \(bundle.path) is missing")
        }
        return OpenAPIDocument(bytes: ByteBuffer(bytes: data), problem: nil)
    }
}
