import Foundation
import PlanterCore

/// The plugins found on the search path, and the ones that failed to load, with why.
public struct PluginCatalog: Sendable {
    public struct Failure: Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    public private(set) var plugins: [Plugin] = []
    public private(set) var failures: [Failure] = []

    public init() {}

    public func plugin(named name: String) -> Plugin? { plugins.first { $0.name == name } }

    /// Adds a loaded plugin; a second plugin of the same name is reported, not used (first on the path wins).
    public mutating func add(_ plugin: Plugin) {
        if let existing = self.plugin(named: plugin.name) {
            failures.append(Failure(path: plugin.path, reason: "plugin \"\(plugin.name)\" is shadowed by \(existing.path)"))
        } else {
            plugins.append(plugin)
        }
    }

    public mutating func addFailure(path: String, reason: String) { failures.append(Failure(path: path, reason: reason)) }

    /// Loads every `libplanter-*.so` in the directories, in order.
    public static func discover(in directories: [String]) -> PluginCatalog {
        var catalog = PluginCatalog()
        var seenPaths = Set<String>()
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted()
            where name.hasPrefix(PluginLoader.filePrefix) && name.hasSuffix(PluginLoader.fileSuffix) {
                let path = (directory as NSString).appendingPathComponent(name)
                let resolved = (path as NSString).resolvingSymlinksInPath
                guard seenPaths.insert(resolved).inserted else { continue }
                do {
                    catalog.add(try PluginLoader.load(path: path))
                } catch {
                    catalog.addFailure(path: error.path, reason: error.reason)
                }
            }
        }
        return catalog
    }

    /// Where plugins are looked for, in order: `PLANTER_PLUGIN_PATH` (colon-separated), the install
    /// location (`<prefix>/lib/planter/plugins` next to `<prefix>/bin/planter`, then
    /// /usr/local/lib/planter/plugins), then the folder of the running executable, so that
    /// `swift build` output works with no set-up.
    public static func searchPath(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  executablePath: String? = nil) -> [String] {
        var directories: [String] = []
        if let value = environment["PLANTER_PLUGIN_PATH"] {
            directories += value.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        let executable = executablePath ?? Self.executablePath()
        let executableDirectory = (executable as NSString).deletingLastPathComponent
        let prefix = (executableDirectory as NSString).deletingLastPathComponent
        directories.append((prefix as NSString).appendingPathComponent("lib/planter/plugins"))
        directories.append("/usr/local/lib/planter/plugins")
        directories.append(executableDirectory)
        var seen = Set<String>()
        return directories.filter { seen.insert($0).inserted }
    }

    package static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments.first ?? "."
    }
}
