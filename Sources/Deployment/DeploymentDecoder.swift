import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterDocument
import PlanterJSON

extension Deployment {
    /// Reads a deployment config file (YAML or JSON). Problems carry JSON pointers into it.
    public static func load(path: String) -> Result<Deployment, ValidationFailure> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ValidationFailure([.error("", "cannot read deployment config \(path)")]))
        }
        switch DocumentParser.parse([UInt8](data), format: .forPath(path)) {
        case .failure(let failure):
            return .failure(ValidationFailure(failure.problems.map { Problem($0.severity, $0.path, "\(path): \($0.message)") }))
        case .success(let json):
            let (deployment, problems) = decode(json, source: path)
            return problems.hasErrors ? .failure(ValidationFailure(problems.all)) : .success(deployment)
        }
    }

    static let knownFields = "executorLabel, defaultExecutor, parallel, retry, outputTailBytes, history, namespaces, secrets, executors, pluginPath"

    public static func decode(_ json: JSON, source: String) -> (Deployment, Problems) {
        var problems = Problems()
        var deployment = Deployment()
        deployment.source = source
        guard let object = json.objectValue else {
            problems.error("", "a deployment config must be an object, got \(json.typeName)")
            return (deployment, problems)
        }
        var reader = ObjectReader(object, path: "", problems: &problems)
        if let (value, path) = reader.take("executorlabel"),
            let text = FieldReader.string(value, path, &problems, what: "executorLabel") {
            deployment.executorLabel = text
        }
        if let (value, path) = reader.take("defaultexecutor"),
            let text = FieldReader.string(value, path, &problems, what: "defaultExecutor") {
            deployment.defaultExecutor = text
        }
        if let (value, path) = reader.take("parallel") {
            deployment.parallel = FieldReader.integer(value, path, &problems, what: "parallel", range: 1...4096)
        }
        if let (value, path) = reader.take("outputtailbytes"),
            let bytes = FieldReader.integer(value, path, &problems, what: "outputTailBytes", range: 0...(1 << 30)) {
            deployment.outputTailBytes = bytes
        }
        if let (value, path) = reader.take("history") {
            decodeHistory(value, path: path, into: &deployment, problems: &problems)
        }
        if let (value, path) = reader.take("namespaces") {
            (deployment.namespaceParallel, deployment.namespaceExecutors) = decodeNamespaces(value, path: path, problems: &problems)
        }
        if let (value, path) = reader.take("retry") {
            deployment.backoff = decodeBackoff(value, path: path, problems: &problems)
        }
        if let (value, path) = reader.take("pluginpath") {
            deployment.pluginPath = FieldReader.strings(value, path, &problems, what: "pluginPath entry")
        }
        if let (value, path) = reader.take("secrets") {
            deployment.secrets = decodeSecrets(value, path: path, problems: &problems)
        }
        if let (value, path) = reader.take("executors") {
            deployment.executors = decodeExecutors(value, path: path, problems: &problems)
        }
        reader.finish(&problems, known: knownFields, severity: .error)
        checkNamespaceExecutors(deployment, path: "/namespaces", problems: &problems)
        let secretNames = Set(deployment.secrets.map(\.name))
        for executor in deployment.executors {
            for (index, name) in executor.secrets.enumerated() where !secretNames.contains(name) {
                problems.error("\(executor.secretsPath)/\(index)", "unknown secret \"\(name)\" (declare it under secrets)")
            }
        }
        return (deployment, problems)
    }

    static func decodeBackoff(_ value: JSON, path: String, problems: inout Problems) -> BackoffPolicy {
        var policy = BackoffPolicy()
        guard let object = value.objectValue else {
            problems.error(path, "retry must be an object, got \(value.typeName)")
            return policy
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        if let (value, valuePath) = reader.take("initialdelay"),
            let duration = FieldReader.duration(value, valuePath, &problems, what: "initialDelay") {
            policy.initialDelay = duration
        }
        if let (value, valuePath) = reader.take("maxdelay"),
            let duration = FieldReader.duration(value, valuePath, &problems, what: "maxDelay") {
            policy.maxDelay = duration
        }
        if let (value, valuePath) = reader.take("factor"),
            let number = FieldReader.number(value, valuePath, &problems, what: "factor (each delay over the last)",
                                            range: BackoffPolicy.factorRange) {
            policy.factor = number
        }
        if let (value, valuePath) = reader.take("jitter"),
            let number = FieldReader.number(value, valuePath, &problems, what: "jitter (a fraction of the delay)",
                                            range: BackoffPolicy.jitterRange) {
            policy.jitter = number
        }
        reader.finish(&problems, known: "initialDelay, factor, maxDelay, jitter", severity: .error)
        return policy
    }

    /// `history: {runs: N, days: D}`: keep the newest N runs, and none that ended more than D days ago.
    static func decodeHistory(_ value: JSON, path: String, into deployment: inout Deployment, problems: inout Problems) {
        guard let object = value.objectValue else {
            problems.error(path, "history must be an object such as {runs: 1000, days: 30}, got \(value.typeName)")
            return
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        if let (value, valuePath) = reader.take("runs") {
            deployment.historyRuns = FieldReader.integer(value, valuePath, &problems, what: "history.runs (runs kept)",
                                                         range: 1...10_000_000)
        }
        if let (value, valuePath) = reader.take("days") {
            deployment.historyDays = FieldReader.integer(value, valuePath, &problems, what: "history.days (days kept)",
                                                         range: 1...36_500)
        }
        reader.finish(&problems, known: "runs, days", severity: .error)
    }

    /// `secrets: {NAME: {env: VAR}}` or `{NAME: {file: /path}}`.
    static func decodeSecrets(_ value: JSON, path: String, problems: inout Problems) -> [SecretDefinition] {
        guard let object = value.objectValue else {
            problems.error(path, "secrets must be an object of NAME: {env: VAR} or NAME: {file: PATH}, got \(value.typeName)")
            return []
        }
        var secrets: [SecretDefinition] = []
        for member in object {
            let secretPath = JSONPointer.append(path, member.key)
            guard let definition = member.value.objectValue else {
                problems.error(secretPath, "a secret must be {env: VARIABLE} or {file: PATH}, got \(FieldReader.describe(member.value))")
                continue
            }
            var reader = ObjectReader(definition, path: secretPath, problems: &problems)
            let env = reader.take("env")
            let file = reader.take("file")
            reader.finish(&problems, known: "env, file", severity: .error)
            switch (env, file) {
            case (let (value, valuePath)?, nil):
                if let name = FieldReader.string(value, valuePath, &problems, what: "env (a variable name)") {
                    secrets.append(SecretDefinition(name: member.key, source: .environment(name), path: secretPath))
                }
            case (nil, let (value, valuePath)?):
                if let file = FieldReader.string(value, valuePath, &problems, what: "file (a path)") {
                    secrets.append(SecretDefinition(name: member.key, source: .file(file), path: secretPath))
                }
            case (_?, _?):
                problems.error(secretPath, "a secret has either env or file, not both")
            case (nil, nil):
                problems.error(secretPath, "a secret needs {env: VARIABLE} or {file: PATH}")
            }
        }
        return secrets
    }

    static func decodeExecutors(_ value: JSON, path: String, problems: inout Problems) -> [ExecutorDefinition] {
        guard let list = value.arrayValue else {
            problems.error(path, "executors must be a list, got \(value.typeName)")
            return []
        }
        var result: [ExecutorDefinition] = []
        for (index, element) in list.enumerated() {
            let itemPath = JSONPointer.append(path, index)
            guard let object = element.objectValue else {
                problems.error(itemPath, "an executor must be an object, got \(element.typeName)")
                continue
            }
            var reader = ObjectReader(object, path: itemPath, problems: &problems)
            var definition = ExecutorDefinition(name: "", plugin: "", path: itemPath)
            if let (value, valuePath) = reader.take("name") {
                definition.name = FieldReader.string(value, valuePath, &problems, what: "name") ?? ""
            }
            if definition.name.isEmpty { problems.error(JSONPointer.append(itemPath, "name"), "missing executor name") }
            if let (value, valuePath) = reader.take("plugin") {
                definition.plugin = FieldReader.string(value, valuePath, &problems, what: "plugin") ?? ""
            }
            decodeSubprocessFields(&reader, into: &definition, problems: &problems)
            decodeExternalFields(&reader, into: &definition, problems: &problems)
            if definition.plugin.isEmpty && definition.command == nil && definition.external == nil {
                problems.error(JSONPointer.append(itemPath, "plugin"), "missing plugin (or command, for a subprocess executor; session or remote, for one served over NATS)")
            }
            if let (value, valuePath) = reader.take("match") {
                definition.match = FieldReader.labels(value, valuePath, &problems, what: "match")
            }
            if let (value, valuePath) = reader.take("config") {
                if value.objectValue != nil {
                    definition.config = value
                } else {
                    problems.error(valuePath, "config must be an object, got \(value.typeName)")
                }
            }
            if let (value, valuePath) = reader.take("secrets") {
                definition.secrets = FieldReader.strings(value, valuePath, &problems, what: "secret name")
                definition.secretsPath = valuePath
            }
            reader.finish(&problems, known: "name, plugin, command, isolation, env, startTimeout, session, remote, match, config, secrets",
                          severity: .error)
            result.append(definition)
        }
        return result
    }

    /// `command: [argv…]` (instead of `plugin`), `isolation: inProcess|process`, and, for executors
    /// that run as a child process, `env: {NAME: value}` and `startTimeout: 10s`.
    static func decodeSubprocessFields(_ reader: inout ObjectReader, into definition: inout ExecutorDefinition,
                                       problems: inout Problems) {
        if let (value, path) = reader.take("command") {
            if !definition.plugin.isEmpty {
                problems.error(path, "an executor has either plugin or command, not both")
            }
            if let list = value.arrayValue, !list.isEmpty {
                var argv: [String] = []
                for (index, element) in list.enumerated() {
                    let elementPath = JSONPointer.append(path, index)
                    guard let text = element.stringValue else {
                        problems.error(elementPath, "command entries must be strings, got \(FieldReader.describe(element))")
                        continue
                    }
                    if text.utf8.contains(0) {
                        problems.error(elementPath, "command entries must not contain NUL bytes")
                    } else if index == 0 && text.isEmpty {
                        problems.error(elementPath, "command[0] (the program) must not be empty")
                    }
                    argv.append(text)
                }
                definition.command = argv
            } else {
                problems.error(path, "command must be a non-empty list of strings (the program and its arguments), "
                    + "got \(value.arrayValue != nil ? "an empty list" : FieldReader.describe(value))")
                definition.command = []
            }
        }
        if let (value, path) = reader.take("isolation") {
            switch value.stringValue.map(ObjectReader.normalize) {
            case "process": definition.isolation = .process
            case "inprocess":
                if definition.command != nil {
                    problems.error(path, "a command executor always runs as a process; isolation: \(FieldReader.describe(value)) does not apply")
                }
            default:
                problems.error(path, "isolation must be inProcess or process, got \(FieldReader.describe(value))")
            }
        }
        let subprocess = definition.runsInSubprocess
        if let (value, path) = reader.take("env") {
            if !subprocess {
                problems.error(path, "env applies to executors that run as a process (command, or isolation: process); "
                    + "an in-process plugin takes its environment in config")
            }
            if let object = value.objectValue {
                for member in object {
                    let memberPath = JSONPointer.append(path, member.key)
                    if member.key.isEmpty || member.key.contains("=") || member.key.utf8.contains(0) {
                        problems.error(memberPath, "invalid environment variable name \"\(member.key)\"")
                    } else if let text = member.value.stringValue, !text.utf8.contains(0) {
                        definition.env[member.key] = text
                    } else {
                        problems.error(memberPath, "env values must be strings, got \(FieldReader.describe(member.value))")
                    }
                }
            } else {
                problems.error(path, "env must be an object of NAME: value strings, got \(value.typeName)")
            }
        }
        if let (value, path) = reader.take("starttimeout") {
            if !subprocess {
                problems.error(path, "startTimeout applies to executors that run as a process (command, or isolation: process)")
            }
            if let duration = FieldReader.duration(value, path, &problems, what: "startTimeout") {
                if duration.milliseconds > 0 {
                    definition.startTimeout = duration
                } else {
                    problems.error(path, "startTimeout must be more than 0")
                }
            }
        }
    }
}
