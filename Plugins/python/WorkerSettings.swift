import ExecutorKit
import ProcessSupport

/// How to start a worker: the interpreter and its environment, fixed per executor instance.
struct WorkerSettings: Sendable {
    /// The interpreter as configured (a venv's python must keep its path: Python finds
    /// the venv from it); `searchPath` says whether PATH is searched for it.
    var interpreter: String
    var searchPath: Bool
    var maxOutputsBytes: Int
    /// "NAME=value" entries: the host's environment with config.env applied.
    var environment: [String]
}

/// The host's environment with `overrides` applied (later ones win), as NAME=value.
func buildEnvironment(overrides: [(String, String)]) -> [String] {
    var entries: [String] = []
    if let base = ps_environ() {
        var index = 0
        while let entry = base[index] {
            index += 1
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            // A planter run inside a phase must not pass the outer phase's tag on.
            if overrides.contains(where: { $0.0 == name }) || PhaseTag.variables.contains(name) { continue }
            entries.append(text)
        }
    }
    var seen = Set<String>()
    for (name, value) in overrides.reversed() where seen.insert(name).inserted {
        entries.append(name + "=" + value)
    }
    return entries
}
