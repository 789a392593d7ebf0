import AsyncHTTPClient
import ExecutorKit
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The http executor: sends one HTTP request per attempt; the response's status, headers
/// and body become the phase's outputs. See README.md for the payload and behaviour.
///
/// Each instance owns its event loop (one thread) and two clients on it, one that follows
/// redirects and one that does not (AsyncHTTPClient configures redirects per client). The
/// plugin links its own copy of NIO, separate from the host's, so nothing is shared with it.
final class HTTPPlugin: ExecutorPlugin {
    static let name = "http"
    static let version = "1.0.0"
    static let summary: String? = "Sends HTTP requests; the response becomes the phase's outputs"
    static let concurrentExecute = true

    static let defaultMaxBodyBytes = 1 << 20

    let maxBodyBytes: Int
    let group: MultiThreadedEventLoopGroup
    let following: HTTPClient
    let direct: HTTPClient

    init(config: JSON, host: PluginHost) throws {
        guard let object = config.objectValue else {
            throw PluginError("executor config must be an object, got \(config.typeName)")
        }
        func positiveInt(_ key: String, _ fallback: Int, max: Int = Int(Int32.max)) throws -> Int {
            guard let value = object[key], !value.isNull else { return fallback }
            guard let number = value.intValue, number > 0, number <= max else {
                throw PluginError("config.\(key) must be a positive integer (at most \(max)), got \(value.serialized)")
            }
            return number
        }
        maxBodyBytes = try positiveInt("maxBodyBytes", Self.defaultMaxBodyBytes)
        let maxRedirects = try positiveInt("maxRedirects", 10, max: 100)
        var connectTimeoutMs = 10_000
        if let value = object["connectTimeout"], !value.isNull {
            guard let ms = Duration.milliseconds(value), ms > 0 else {
                throw PluginError("config.connectTimeout must be a positive duration such as \"10s\", got \(value.serialized)")
            }
            connectTimeoutMs = ms
        }
        for member in object where !["maxBodyBytes", "maxRedirects", "connectTimeout"].contains(member.key) {
            throw PluginError("config has an unknown key \"\(member.key)\" (known: maxBodyBytes, maxRedirects, connectTimeout)")
        }

        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeoutMs)), read: nil)
        // A refused or failed connection fails the attempt at once; the phase's retry
        // policy decides what happens next (instead of the pool retrying until the deadline).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .enabled(limit: .ratio(100))
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        configuration.redirectConfiguration = .follow(max: maxRedirects, allowCycles: false)
        following = HTTPClient(eventLoopGroup: group, configuration: configuration)
        configuration.redirectConfiguration = .disallow
        direct = HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    deinit {
        // destroy() runs after the last execute returned, never on our event loop.
        try? following.syncShutdown()
        try? direct.syncShutdown()
        try? group.syncShutdownGracefully()
    }

    func execute(_ request: PluginRequest, call: PluginCall) -> PluginResult {
        let job: HTTPJob
        switch HTTPJob.parse(request.payload) {
        case .success(let parsed): job = parsed
        case .failure(let error): return .invalid(error.message)
        }
        let target = "\(job.method) \(job.url)"
        if request.dryRun { return .succeeded("dry run: would send \(target)") }
        if call.isCancelled { return .cancelled("cancelled before sending \(target)") }

        var headers = HTTPHeaders(job.headers)
        if let contentType = job.impliedContentType { headers.add(name: "Content-Type", value: contentType) }
        let httpRequest: HTTPClient.Request
        do {
            httpRequest = try HTTPClient.Request(
                url: job.url, method: HTTPMethod(rawValue: job.method), headers: headers,
                body: job.body.map { .bytes($0) })
        } catch {
            return .invalid("payload.url \(job.url) cannot be requested: \(Self.describe(error))")
        }

        // The attempt's own limit bounds the payload's.
        let limitMs = [job.timeoutMs, request.timeoutMs.flatMap { $0 > 0 ? $0 : nil }].compactMap { $0 }.min()
        let start = ContinuousClock.now
        guard let completion = Completion() else { return .failed("\(target): cannot create a pipe (errno \(errno))") }
        let client = job.followRedirects ? following : direct
        let task = client.execute(
            request: httpRequest, delegate: ResponseAccumulator(request: httpRequest, maxBodySize: maxBodyBytes),
            deadline: limitMs.map { .now() + .milliseconds(Int64($0)) })
        task.futureResult.whenComplete { completion.complete($0) }

        if !completion.wait(call: call, limitMs: limitMs) {
            // Cancelled by the host (or, as a safety net, far past our own deadline).
            task.cancel()
            _ = completion.wait(call: nil, limitMs: 5000)
            if call.isCancelled { return .cancelled("cancelled: \(target)") }
        }
        let elapsedMs = Int((ContinuousClock.now - start) / .milliseconds(1))

        switch completion.outcome {
        case .success(let response):
            let outputs = Self.outputs(of: response)
            let bytes = response.body?.readableBytes ?? 0
            let line = "\(target) -> \(response.status.code) \(response.status.reasonPhrase) "
                + "(\(bytes) bytes in \(elapsedMs) ms)"
            call.output(.stdout, line + "\n")
            let code = Int(response.status.code)
            guard job.expect.matches(code) else {
                return PluginResult(
                    status: .failed,
                    message: "\(target) returned \(code) \(response.status.reasonPhrase), expected \(job.expect)",
                    outputs: outputs)
            }
            return .succeeded("\(code) \(response.status.reasonPhrase)", outputs: outputs)
        case .failure(let error):
            if let error = error as? HTTPClientError, error == .cancelled, call.isCancelled {
                return .cancelled("cancelled: \(target)")
            }
            let what: String
            if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .cancelled {
                what = "timed out after \(Self.duration(limitMs ?? elapsedMs))"
            } else if error is ResponseAccumulator.ResponseTooBigError {
                what = "response body exceeds maxBodyBytes (\(maxBodyBytes) bytes)"
            } else {
                what = Self.describe(error)
            }
            call.output(.stderr, "\(target) failed: \(what)\n")
            return .failed("\(target) failed: \(what)")
        case nil:
            return .failed("\(target) failed: no response after the request was cancelled")
        }
    }

    /// `{status, headers, body}`: header names lowercased (repeated ones joined with ", "),
    /// the body parsed when the content type is JSON, else text.
    static func outputs(of response: HTTPClient.Response) -> JSONObject {
        var headers = JSONObject()
        for (name, value) in response.headers {
            let key = name.lowercased()
            if let existing = headers[key]?.stringValue {
                headers.append(key, .string(existing + ", " + value))
            } else {
                headers.append(key, .string(value))
            }
        }
        var bytes: [UInt8] = []
        if var body = response.body { bytes = body.readBytes(length: body.readableBytes) ?? [] }
        var body = JSON.string(String(decoding: bytes, as: UTF8.self))
        if let contentType = response.headers.first(name: "Content-Type"), isJSON(contentType), !bytes.isEmpty,
            let parsed = try? JSONParser.parse(bytes)
        {
            body = parsed
        }
        var outputs = JSONObject()
        outputs.append("status", .int(Int64(response.status.code)))
        outputs.append("headers", .object(headers))
        outputs.append("body", body)
        return outputs
    }

    /// `application/json`, `application/problem+json`, … (parameters ignored).
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces().lowercased() } ?? ""
        return media == "application/json" || media.hasSuffix("+json")
    }

    static func duration(_ ms: Int) -> String {
        if ms < 1000 { return "\(ms) ms" }
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        return "\(Double(ms) / 1000) s"
    }

    /// A short, human reason for a client error.
    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            let reasons = error.connectionErrors.map { failure in
                "\(failure.target.ipAddress ?? "\(failure.target)"): \(describe(failure.error))"
            }
            if let first = reasons.first {
                return "cannot connect to \(first)" + (reasons.count > 1 ? " (and \(reasons.count - 1) more addresses)" : "")
            }
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve \(error.host): \(describe(dns))"
            }
            return "cannot connect to \(error.host):\(error.port)"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "the server closed the connection before responding"
            case .redirectLimitReached: return "too many redirects"
            case .redirectCycleDetected: return "redirect cycle"
            case .invalidURL: return "invalid URL"
            case .emptyHost: return "the URL has no host"
            default: return error.shortDescription
            }
        }
        return "\(error)"
    }
}
