import PlanterCore

#if canImport(Glibc)
import Glibc
#endif

/// Finds `planter-executor-host`, the companion program that serves a plugin `.so` over the
/// subprocess protocol (what `isolation: process` runs).
public enum ExecutorHostLocator {
    public static let programName = "planter-executor-host"
    public static let environmentVariable = "PLANTER_EXECUTOR_HOST"

    /// `$PLANTER_EXECUTOR_HOST`, else the program next to the running executable (where `swift build`
    /// and `make install` put it beside `planter`).
    public struct NotFound: Error, CustomStringConvertible {
        public var description: String
    }

    public static func find(environment: [String: String], executablePath: String? = nil) -> Result<String, NotFound> {
        if let path = environment[environmentVariable], !path.isEmpty {
            return access(path, X_OK) == 0 ? .success(path)
                : .failure(NotFound(description: "\(environmentVariable)=\(path) is not an executable file"))
        }
        let executable = executablePath ?? PluginCatalog.executablePath()
        let directory = executable.contains("/") ? String(executable[..<executable.lastIndex(of: "/")!]) : "."
        let candidate = directory + "/" + programName
        if access(candidate, X_OK) == 0 { return .success(candidate) }
        return .failure(NotFound(description: "isolation: process needs \(programName), which is not in \(directory) "
            + "(set \(environmentVariable) to its path)"))
    }
}
