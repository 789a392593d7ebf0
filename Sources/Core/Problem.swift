/// One thing wrong (or suspicious) with an input, and where: a JSON pointer into the
/// document (`/2/spec/waitFor/phases/0`), or a line and column for text that did not parse.
public struct Problem: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    public var severity: Severity
    public var path: String
    public var message: String

    public init(_ severity: Severity, _ path: String, _ message: String) {
        self.severity = severity
        self.path = path
        self.message = message
    }

    public static func error(_ path: String, _ message: String) -> Problem { Problem(.error, path, message) }
    public static func warning(_ path: String, _ message: String) -> Problem { Problem(.warning, path, message) }

    /// `/2/spec/waitFor/phases/0: unknown phase "prefligth"`; the document root prints as `/`.
    public var description: String { "\(path.isEmpty ? "/" : path): \(message)" }
}

/// Problems gathered while reading one input. Every check reports and carries on, so the
/// user sees all problems at once.
public struct Problems: Sendable, Equatable {
    public private(set) var all: [Problem] = []

    public init() {}

    public var errors: [Problem] { all.filter { $0.severity == .error } }
    public var warnings: [Problem] { all.filter { $0.severity == .warning } }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }

    public mutating func error(_ path: String, _ message: String) { all.append(.error(path, message)) }
    public mutating func warning(_ path: String, _ message: String) { all.append(.warning(path, message)) }
    public mutating func append(contentsOf other: Problems) { all += other.all }
    public mutating func append(_ problem: Problem) { all.append(problem) }

    /// Strict mode: what would pass with a warning is refused; the message says why.
    public mutating func makeWarningsErrors() {
        for index in all.indices where all[index].severity == .warning {
            all[index].severity = .error
            all[index].message += " — refused in strict mode (strict=true, --strict or PLANTER_STRICT); without it, a warning"
        }
    }
}

/// Thrown by entry points that refuse invalid input; carries every problem.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
