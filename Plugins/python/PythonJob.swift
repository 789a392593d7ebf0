import ExecutorKit

/// What to run, from the payload.
struct PythonJob {
    enum Kind { case code(String), file(String), module(String, function: String, args: [JSON], kwargs: JSONObject) }
    var kind: Kind
    var env: [(String, String)]
    var workdir: String?

    var summary: String {
        switch kind {
        case .code(let code): return "python code (\(code.utf8.count) bytes)"
        case .file(let path): return "python file \(path)"
        case .module(let module, let function, _, _): return "python \(module).\(function)()"
        }
    }

    /// The job line for the worker (see WorkerScript.swift). Secrets, payload env and the
    /// phase's tag (PhaseTag, which nothing overrides) go into os.environ for the phase, so
    /// every process the phase's code starts carries the tag from its exec on.
    func line(id: Int, phase: String, inputs: JSONObject, secrets: [String: String], tag: [(String, String)] = []) -> [UInt8] {
        var writer = JSONWriter(capacity: 192)
        writer.beginObject()
        writer.field("id", id)
        writer.field("phase", phase)
        switch kind {
        case .code(let code):
            writer.field("kind", "code")
            writer.field("code", code)
        case .file(let path):
            writer.field("kind", "file")
            writer.field("file", path)
        case .module(let module, let function, let args, let kwargs):
            writer.field("kind", "module")
            writer.field("module", module)
            writer.field("function", function)
            if !args.isEmpty { writer.field("args", .array(args)) }
            if !kwargs.isEmpty { writer.field("kwargs", .object(kwargs)) }
        }
        if !secrets.isEmpty || !env.isEmpty || !tag.isEmpty {
            let tagged = { (name: String) in tag.contains { $0.0 == name } }
            writer.key("env")
            writer.beginObject()
            for (name, value) in secrets.sorted(by: { $0.key < $1.key })
            where !env.contains(where: { $0.0 == name }) && !tagged(name) {
                writer.field(name, value)
            }
            for (name, value) in env where !tagged(name) { writer.field(name, value) }
            for (name, value) in tag { writer.field(name, value) }
            writer.endObject()
            writer.comma()
        }
        if let workdir { writer.field("workdir", workdir) }
        writer.field("inputs", .object(inputs))
        writer.endObject()
        writer.bytes.append(0x0A)
        return writer.bytes
    }

    static func parse(_ payload: JSON) -> Result<PythonJob, PluginError> {
        guard let object = payload.objectValue else {
            return .failure(PluginError("payload must be an object, got \(payload.typeName)"))
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }
        func string(_ key: String) -> Result<String?, PluginError> {
            guard let value = present(key) else { return .success(nil) }
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                return .failure(PluginError("payload.\(key) must be a non-empty string, got \(value.typeName)"))
            }
            return .success(text)
        }
        let noSource = PluginError("payload needs code (a string), file (a path) or module + function")
        let sources = ["code", "file", "module"].filter { present($0) != nil }
        guard !sources.isEmpty else {
            return .failure(noSource)
        }
        guard sources.count == 1 else {
            return .failure(PluginError("payload must have exactly one of code, file and module, not "
                + sources.joined(separator: " and ")))
        }
        var kind: Kind
        switch sources[0] {
        case "code":
            let value = present("code")
            guard let code = value?.stringValue else {
                return .failure(PluginError("payload.code must be a string, got \(value?.typeName ?? "null")"))
            }
            kind = .code(code)
        case "file":
            switch string("file") {
            case .success(let path?): kind = .file(path)
            case .success(nil): return .failure(noSource)
            case .failure(let error): return .failure(error)
            }
        default:
            let module: String
            switch string("module") {
            case .success(let name?): module = name
            case .success(nil): return .failure(noSource)
            case .failure(let error): return .failure(error)
            }
            let function: String
            switch string("function") {
            case .success(let name?): function = name
            case .success(nil): return .failure(PluginError("payload.module needs payload.function (a name in it)"))
            case .failure(let error): return .failure(error)
            }
            var args: [JSON] = []
            if let value = present("args") {
                guard let array = value.arrayValue else {
                    return .failure(PluginError("payload.args must be an array, got \(value.typeName)"))
                }
                args = array
            }
            var kwargs = JSONObject()
            if let value = present("kwargs") {
                guard let map = value.objectValue else {
                    return .failure(PluginError("payload.kwargs must be an object, got \(value.typeName)"))
                }
                kwargs = map
            }
            kind = .module(module, function: function, args: args, kwargs: kwargs)
        }
        if sources[0] != "module" {
            for key in ["function", "args", "kwargs"] where present(key) != nil {
                return .failure(PluginError("payload.\(key) goes with payload.module"))
            }
        }
        var env: [(String, String)] = []
        if let value = present("env") {
            do { env = try EnvironmentVariables.parse(value, field: "payload.env") } catch { return .failure(error) }
        }
        var workdir: String?
        switch string("workdir") {
        case .success(let dir): workdir = dir
        case .failure(let error): return .failure(error)
        }
        return .success(PythonJob(kind: kind, env: env, workdir: workdir))
    }
}
