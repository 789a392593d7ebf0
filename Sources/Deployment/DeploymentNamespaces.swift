import PlanterCore
import PlanterDocument
import PlanterJSON

extension Deployment {
    /// `namespaces: {team-a: {parallel: 2}}`: each name a valid namespace name, each limit 1…4096.
    static func decodeNamespaces(_ value: JSON, path: String, problems: inout Problems) -> [String: Int] {
        guard let object = value.objectValue else {
            problems.error(path, "namespaces must be an object such as {team-a: {parallel: 2}}, got \(value.typeName)")
            return [:]
        }
        var limits: [String: Int] = [:]
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
            reader.finish(&problems, known: "parallel", severity: .error)
        }
        return limits
    }
}
