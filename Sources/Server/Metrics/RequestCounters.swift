import Hummingbird
import Synchronization

/// HTTP answers by route pattern, method and status: one relaxed atomic add per request,
/// no lock and no allocation on the request path. `ServerMetrics` moves the counts into
/// the Prometheus counters when /metrics is read.
final class RequestCounters: @unchecked Sendable {
    static let methods: [String] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"]
    static let statuses: [Int] = [200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 503, 0]

    /// Route patterns by index (known once the route table is built; read only at scrape time).
    private let patternNames = Mutex<[String]>([])
    let maxPatterns: Int
    private let slots: UnsafeMutablePointer<Atomic<Int>>
    private let count: Int

    init(maxPatterns: Int = 64) {
        self.maxPatterns = maxPatterns
        count = maxPatterns * Self.methods.count * Self.statuses.count
        slots = .allocate(capacity: count)
        for index in 0..<count { (slots + index).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func setPatterns(_ patterns: [String]) {
        precondition(patterns.count <= maxPatterns, "more route patterns than metric slots")
        patternNames.withLock { $0 = patterns }
    }

    func record(pattern: Int, method: HTTPRequest.Method, status: Int) {
        let slot = (pattern * Self.methods.count + Self.methodIndex(method)) * Self.statuses.count + Self.statusIndex(status)
        guard slot >= 0 && slot < count else { return }
        (slots + slot).pointee.add(1, ordering: .relaxed)
    }

    /// Non-zero slots: (slot, pattern, method, status label, count).
    func snapshot() -> [(slot: Int, pattern: String, method: String, status: String, count: Int)] {
        let patterns = patternNames.withLock { $0 }
        var result: [(Int, String, String, String, Int)] = []
        for slot in 0..<count {
            let value = (slots + slot).pointee.load(ordering: .relaxed)
            guard value > 0 else { continue }
            let statusIndex = slot % Self.statuses.count
            let methodIndex = (slot / Self.statuses.count) % Self.methods.count
            let pattern = slot / (Self.statuses.count * Self.methods.count)
            let status = Self.statuses[statusIndex]
            result.append((slot, pattern < patterns.count ? patterns[pattern] : "pattern\(pattern)", Self.methods[methodIndex], status == 0 ? "other" : String(status), value))
        }
        return result
    }

    static func methodIndex(_ method: HTTPRequest.Method) -> Int {
        switch method {
        case .get: return 0
        case .post: return 1
        case .put: return 2
        case .delete: return 3
        case .patch: return 4
        case .head: return 5
        case .options: return 6
        default: return 7
        }
    }

    static func statusIndex(_ status: Int) -> Int {
        switch status {
        case 200: return 0
        case 201: return 1
        case 202: return 2
        case 204: return 3
        case 400: return 4
        case 401: return 5
        case 403: return 6
        case 404: return 7
        case 405: return 8
        case 409: return 9
        case 413: return 10
        case 415: return 11
        case 422: return 12
        case 500: return 13
        case 503: return 14
        default: return 15
        }
    }
}
