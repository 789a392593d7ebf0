import PlanterCore
import PlanterHost
import PlanterJSON

/// Prints validation problems: one `pointer: message` line each (stderr), or a JSON document.
package enum ProblemReport {
    package static func print(_ problems: [Problem], format: OutputFormat, subject: String) {
        switch format {
        case .json, .yaml:
            StructuredOutput.write(json(problems, valid: false), format)
        case .text:
            let errors = problems.filter { $0.severity == .error }.count
            StandardError.write("\(subject) is invalid (\(errors) error\(errors == 1 ? "" : "s")):\n")
            for problem in problems { StandardError.write("  \(problem.severity == .error ? "error" : "warning"): \(problem)\n") }
        }
    }

    package static func printWarnings(_ problems: [Problem]) {
        for problem in problems { StandardError.write("warning: \(problem)\n") }
    }

    package static func json(_ problems: [Problem], valid: Bool) -> JSON {
        var object = JSONObject()
        object.appendUnchecked("valid", .bool(valid))
        object.appendUnchecked("errors", .array(problems.filter { $0.severity == .error }.map(json)))
        object.appendUnchecked("warnings", .array(problems.filter { $0.severity == .warning }.map(json)))
        return .object(object)
    }

    package static func json(_ problem: Problem) -> JSON {
        ["path": .string(problem.path), "message": .string(problem.message)]
    }
}
