import Foundation
import PlanterCore
import PlanterDeployment
import PlanterDocument
import PlanterJSON

/// What a token may do: `read` (every GET, POST /diff), `write` (also plans, apply, reruns,
/// cancel, reload), `admin` (also POST /STOP).
enum Role: Int, Sendable, Comparable, CustomStringConvertible {
    case read, write, admin

    init?(name: String) {
        switch name {
        case "read": self = .read
        case "write": self = .write
        case "admin": self = .admin
        default: return nil
        }
    }

    var description: String { ["read", "write", "admin"][rawValue] }
    static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// One token's grant: who it is (recorded as `triggeredBy` in the runs it starts), which
/// namespaces it may use (nil: every one) and its role. The token itself is never logged.
struct TokenGrant: Sendable {
    let name: String
    let namespaces: Set<String>?
    let role: Role
    /// `Bearer <token>`, as the header sends it.
    let bearer: [UInt8]

    func covers(_ namespace: String) -> Bool { namespaces?.contains(namespace) ?? true }
    var everyNamespace: Bool { namespaces == nil }
}

/// The tokens a server accepts: `PLANTER_TOKEN` (named `PLANTER_TOKEN`, every namespace,
/// admin) and those of `PLANTER_TOKENS_FILE`.
struct AccessTokens: Sendable {
    let grants: [TokenGrant]

    static func single(_ token: String) -> TokenGrant {
        TokenGrant(name: "PLANTER_TOKEN", namespaces: nil, role: .admin, bearer: Array("Bearer \(token)".utf8))
    }

    /// The grant whose token the header carries. Every grant is compared, each in constant
    /// time, whichever matches: the time says how many tokens there are, not which one.
    func grant(for header: [UInt8]) -> TokenGrant? {
        var found: TokenGrant?
        for grant in grants where AuthMiddleware.constantTimeEqual(header, grant.bearer) { found = grant }
        return found
    }

    static let knownFields = "name, namespaces, role"

    /// Reads a tokens file (YAML or JSON): an object of token → `{name, namespaces, role}`,
    /// `namespaces` a list of names or `"*"`. Problems name the entry by its position, never by
    /// the token.
    static func load(path: String) -> Result<[TokenGrant], ValidationFailure> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ValidationFailure([.error("", "cannot read the tokens file \(path) (PLANTER_TOKENS_FILE)")]))
        }
        switch DocumentParser.parse([UInt8](data), format: .forPath(path)) {
        case .failure(let failure):
            // A parser's message may quote the text it stopped at (a repeated key: a token).
            return .failure(ValidationFailure(failure.problems.map { Problem($0.severity, $0.path, redactingQuotes($0.message)) }))
        case .success(let json):
            var problems = Problems()
            let grants = decode(json, problems: &problems)
            return problems.hasErrors ? .failure(ValidationFailure(problems.all)) : .success(grants)
        }
    }

    /// `the key "abc" is given more than once` → `the key "…" is given more than once`.
    static func redactingQuotes(_ message: String) -> String {
        var result = ""
        var quoted = false
        for character in message {
            if character == "\"" {
                result.append(quoted ? "…\"" : "\"")
                quoted.toggle()
            } else if !quoted {
                result.append(character)
            }
        }
        return quoted ? result + "…\"" : result
    }

    static func decode(_ json: JSON, problems: inout Problems) -> [TokenGrant] {
        guard let object = json.objectValue else {
            problems.error("", "a tokens file must be an object of token → {name, namespaces, role}, got \(json.typeName)")
            return []
        }
        if object.count == 0 { problems.error("", "the tokens file names no token") }
        var grants: [TokenGrant] = []
        for (index, member) in object.enumerated() {
            // The pointer would carry the token: the entry is named by its position instead.
            let path = "/<token \(index + 1)>"
            if member.key.isEmpty || !member.key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                problems.error(path, "a token must be printable ASCII without spaces (it is sent as Authorization: Bearer <token>)")
            }
            guard let fields = member.value.objectValue else {
                problems.error(path, "a token's entry must be an object with \(knownFields), got \(member.value.typeName)")
                continue
            }
            var reader = ObjectReader(fields, path: path, problems: &problems)
            var name: String?
            if let (value, valuePath) = reader.take("name") {
                name = FieldReader.string(value, valuePath, &problems, what: "name")
                if name?.isEmpty == true { problems.error(valuePath, "name must not be empty: it is recorded as who triggered a run") }
            } else {
                problems.error(path, "the token has no name (it is recorded as who triggered a run)")
            }
            var role: Role?
            if let (value, valuePath) = reader.take("role") {
                if let text = FieldReader.string(value, valuePath, &problems, what: "role") {
                    role = Role(name: text)
                    if role == nil { problems.error(valuePath, "role must be read, write or admin, got \"\(text)\"") }
                }
            } else {
                problems.error(path, "the token has no role (read, write or admin)")
            }
            let namespaces = readNamespaces(&reader, path: path, problems: &problems)
            reader.finish(&problems, known: knownFields, severity: .error)
            if let name, let role, let namespaces {
                grants.append(TokenGrant(name: name, namespaces: namespaces.all ? nil : namespaces.names, role: role,
                                         bearer: Array("Bearer \(member.key)".utf8)))
            }
        }
        return grants
    }

    /// `namespaces`: `"*"` (every one) or a list of valid names (which may hold `"*"`).
    private static func readNamespaces(_ reader: inout ObjectReader, path: String, problems: inout Problems)
        -> (all: Bool, names: Set<String>)?
    {
        guard let (value, valuePath) = reader.take("namespaces") else {
            problems.error(path, "the token has no namespaces (a list of names, or \"*\" for every one)")
            return nil
        }
        let before = problems.all.count
        let names = FieldReader.strings(value, valuePath, &problems, what: "a namespace")
        for (index, name) in names.enumerated() where name != "*" {
            if let problem = NamespaceName.problem(Substring(name)) {
                problems.error(value.arrayValue == nil ? valuePath : JSONPointer.append(valuePath, index), problem)
            }
        }
        if names.isEmpty && problems.all.count == before { problems.error(valuePath, "namespaces is empty: the token could do nothing") }
        guard problems.all.count == before else { return nil }
        return (names.contains("*"), Set(names))
    }
}
