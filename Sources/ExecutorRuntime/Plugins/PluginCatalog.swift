import Foundation
import PlanterCore
import Synchronization

/// The plugin files found on the search path, loaded (dlopen) when first asked for: a run
/// loads only the plugins its executors use, and checking a plan loads none. `plugins` and
/// `failures` load every file found (for `planter plugins`, `/ready` and start-up warnings).
public struct PluginCatalog: Sendable {
    public struct Failure: Error, Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    /// The plugin name each file's name gives (`libplanter-<name>.so`) → its path, first on the
    /// search path winning; the later ones of a name are loaded only by `plugins`/`failures`.
    private var files: [(name: String, path: String)] = []
    /// Plugins added already loaded (embedders, tests).
    private var added: [Plugin] = []
    private var addedFailures: [Failure] = []
    private let cache = LoadCache()

    public init() {}

    /// The names of the plugins found, from their file names: nothing is loaded.
    public var names: [String] {
        var seen = Set<String>()
        return (added.map(\.name) + files.map(\.name)).filter { seen.insert($0).inserted }
    }

    /// The file a plugin `name` would be loaded from, without loading it.
    public func path(named name: String) -> String? {
        added.first { $0.name == name }?.path ?? files.first { $0.name == name }?.path
    }

    /// The plugin `name`, loaded now if it was not yet. Nil when no file gives that name or
    /// its file failed to load (`failure(named:)` says why).
    public func plugin(named name: String) -> Plugin? {
        if let plugin = added.first(where: { $0.name == name }) { return plugin }
        if let file = files.first(where: { $0.name == name }), case .success(let plugin) = cache.load(file.path),
           plugin.name == name {
            return plugin
        }
        // A file whose plugin calls itself something else: the name only the loaded set knows.
        return plugins.first { $0.name == name }
    }

    /// Why the file that gives `name` failed to load, once it was tried.
    public func failure(named name: String) -> Failure? {
        guard let file = files.first(where: { $0.name == name }), case .failure(let failure) = cache.load(file.path) else {
            return nil
        }
        return failure
    }

    /// Every plugin that loads, in search-path order (this loads every file found).
    public var plugins: [Plugin] { loadAll().plugins }

    /// The files that did not load, with why, and plugins shadowed by an earlier one of the same name.
    public var failures: [Failure] { loadAll().failures }

    private func loadAll() -> (plugins: [Plugin], failures: [Failure]) {
        var plugins = added
        var failures = addedFailures
        for file in files {
            switch cache.load(file.path) {
            case .failure(let failure): failures.append(failure)
            case .success(let plugin):
                if let existing = plugins.first(where: { $0.name == plugin.name }) {
                    failures.append(Failure(path: plugin.path, reason: "plugin \"\(plugin.name)\" is shadowed by \(existing.path)"))
                } else {
                    plugins.append(plugin)
                }
            }
        }
        return (plugins, failures)
    }

    /// Adds a loaded plugin; a second plugin of the same name is reported, not used (first on the path wins).
    public mutating func add(_ plugin: Plugin) {
        if let existing = added.first(where: { $0.name == plugin.name }) {
            addedFailures.append(Failure(path: plugin.path, reason: "plugin \"\(plugin.name)\" is shadowed by \(existing.path)"))
        } else {
            added.append(plugin)
        }
    }

    public mutating func addFailure(path: String, reason: String) { addedFailures.append(Failure(path: path, reason: reason)) }

    /// Finds every `libplanter-*.so` in the directories, in order; loads none of them.
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
                let pluginName = String(name.dropFirst(PluginLoader.filePrefix.count).dropLast(PluginLoader.fileSuffix.count))
                catalog.files.append((pluginName, path))
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

/// Each plugin file loaded at most once, whoever asks first (plugins are never unloaded).
private final class LoadCache: Sendable {
    private let loaded = Mutex<[String: Result<Plugin, PluginCatalog.Failure>]>([:])

    func load(_ path: String) -> Result<Plugin, PluginCatalog.Failure> {
        // Held while loading: two threads asking for one plugin get the same instance of it.
        loaded.withLock { loaded in
            if let done = loaded[path] { return done }
            let result: Result<Plugin, PluginCatalog.Failure>
            do throws(PluginFailure) {
                result = .success(try PluginLoader.load(path: path))
            } catch {
                result = .failure(PluginCatalog.Failure(path: error.path, reason: error.reason))
            }
            loaded[path] = result
            return result
        }
    }
}
