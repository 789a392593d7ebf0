import Foundation
import PlanterCore

/// The values of a deployment's secrets, read from where the deployment says (environment
/// variables, files). One that cannot be read is a problem at its definition's pointer.
enum SecretValues {
    static func read(_ secrets: [SecretDefinition], environment: [String: String]) -> (values: [String: String], problems: Problems) {
        var problems = Problems()
        var values: [String: String] = [:]
        for secret in secrets {
            switch secret.source {
            case .environment(let variable):
                if let value = environment[variable] {
                    values[secret.name] = value
                } else {
                    problems.error(secret.path, "secret \(secret.name): environment variable \(variable) is not set")
                }
            case .file(let path):
                if let data = FileManager.default.contents(atPath: path) {
                    var value = String(decoding: data, as: UTF8.self)
                    // A file written by an editor or `echo` ends with a newline that is not part of the secret.
                    while value.hasSuffix("\n") || value.hasSuffix("\r") { value.removeLast() }
                    values[secret.name] = value
                } else {
                    problems.error(secret.path, "secret \(secret.name): cannot read \(path)")
                }
            }
        }
        return (values, problems)
    }
}
