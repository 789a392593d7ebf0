import Foundation
import NIOCore

/// The dashboard's page, script and style sheet: the module's `Dashboard/Assets` resource folder,
/// read once at start-up. Public files (no secrets in them); the page asks for the token itself.
struct DashboardAssets: Sendable {
    struct Asset: Sendable {
        let bytes: ByteBuffer
        let contentType: String
    }

    let files: [String: Asset]
    /// Why there are none (the resource bundle is not next to the binary).
    let problem: String?

    static let contentTypes = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                               "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png"]
    /// Bounds what start-up reads, whatever lands in the folder.
    static let maximumBytes = 4 << 20

    static func load() -> DashboardAssets {
        // As for openapi.yaml: Bundle.module stops the process when the bundle is missing, so check first.
        let bundle = Bundle.main.bundleURL.appendingPathComponent("planter_PlanterServer.resources")
        guard FileManager.default.fileExists(atPath: bundle.path), let folder = Bundle.module.url(forResource: "Assets", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else {
            return DashboardAssets(files: [:], problem: "the dashboard is not installed: \(bundle.path) is missing")
        }
        var files: [String: Asset] = [:]
        var total = 0
        for name in names.sorted() {
            guard let type = contentTypes[(name as NSString).pathExtension],
                let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path),
                total + data.count <= maximumBytes
            else { continue }
            total += data.count
            files[name] = Asset(bytes: ByteBuffer(bytes: data), contentType: type)
        }
        return DashboardAssets(files: files, problem: nil)
    }
}
