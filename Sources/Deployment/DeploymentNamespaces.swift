import ExecutorRuntime
import PlanterCore
import PlanterDocument
import PlanterJSON

extension Deployment {
    /// `namespaces: {team-a: {parallel: 2, executors: [build]}}`: each name a valid namespace
    /// name, each limit 1…4096, each executor one the deployment defines (checked once all is read).
    static func decodeNamespaces(_ value: JSON, path: String, problems: inout Problems) -> ([String: Int], [String: [String]]) {
        guard let object = value.objectValue else {
            problems.error(path, "namespaces must be an object such as {team-a: {parallel: 2}}, got \(value.typeName)")
            return ([:], [:])
        }
        var limits: [String: Int] = [:]
        var executors: [String: [String]] = [:]
        for member in object {
            let namespacePath = JSONPointer.append(path, member.key)
            if let problem = NamespaceName.problem(Substring(member.key)) { problems.error(namespacePath, problem) }
            guard let fields = member.value.objectValue else {
                problems.error(namespacePath, "a namespace's limits must be an object such as {parallel: 2}, got \(member.value.typeName)")
                continue
            }
            var reader = ObjectReader(fields, path: namespacePath, problems: &problems)
            if let (value, valuePath) = reader.take("parallel") {
                limits[member.key] = FieldReader.integer(value, valuePath, &problems, what: "parallel (the namespace's phases at once)",
                                                         range: 1...4096)
            }
            if let (value, valuePath) = reader.take("executors") {
                executors[member.key] = FieldReader.strings(value, valuePath, &problems, what: "an executor name")
            }
            reader.finish(&problems, known: "parallel, executors", severity: .error)
        }
        return (limits, executors)
    }

    /// Every executor a namespace names is an instance of the deployment (or the built-in noop).
    static func checkNamespaceExecutors(_ deployment: Deployment, path: String, problems: inout Problems) {
        let defined = Set(deployment.executors.map(\.name)).union([NoopExecutor.name])
        for (namespace, names) in deployment.namespaceExecutors.sorted(by: { $0.key < $1.key }) {
            for (index, name) in names.enumerated() where !defined.contains(name) {
                problems.error(JSONPointer.append(JSONPointer.append(JSONPointer.append(path, namespace), "executors"), index),
                               "unknown executor \"\(name)\" (the deployment defines: \(defined.sorted().joined(separator: ", ")))")
            }
        }
    }
}
