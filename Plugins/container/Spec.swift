import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// A bind mount from the host into the container.
struct Mount: Equatable {
    var source: String
    var destination: String
    var readWrite: Bool
}

/// Resource limits; nil = not limited.
struct Limits: Equatable {
    var memoryBytes: Int64?
    var cpus: Double?
    var pids: Int64?
    var isEmpty: Bool { memoryBytes == nil && cpus == nil && pids == nil }
}

/// What one attempt runs, from the payload (with the executor config's defaults applied).
struct ContainerJob {
    var argv: [String]
    var env: [(String, String)]
    var workdir: String?
    /// For runc: a root filesystem folder, or an OCI bundle folder whose config.json is
    /// the base. For docker/podman: an image.
    var rootfs: String?
    var bundle: String?
    var image: String?
    var mounts: [Mount]
    /// "none" (a new, empty network namespace: only lo) or "host".
    var network: String
    var limits: Limits

    static func parse(_ payload: JSON, defaults: ContainerDefaults) -> Result<ContainerJob, PluginError> {
        guard let object = payload.objectValue else {
            return .failure(PluginError("payload must be an object, got \(payload.typeName)"))
        }
        func present(_ key: String) -> JSON? { object[key].flatMap { $0.isNull ? nil : $0 } }
        func path(_ key: String) -> Result<String?, PluginError> {
            guard let value = present(key) else { return .success(nil) }
            guard let text = value.stringValue, !text.isEmpty, !text.utf8.contains(0) else {
                return .failure(PluginError("payload.\(key) must be a non-empty string, got \(value.typeName)"))
            }
            return .success(text)
        }
        do {
            var argv: [String]
            switch (present("script"), present("command")) {
            case (nil, nil):
                throw PluginError("payload needs script (a string) or command (an array of strings)")
            case (.some, .some):
                throw PluginError("payload must have either script or command, not both")
            case (let script?, nil):
                guard let text = script.stringValue, !text.utf8.contains(0) else {
                    throw PluginError("payload.script must be a string, got \(script.typeName)")
                }
                argv = defaults.shell + [text]
            case (nil, let command?):
                guard let array = command.arrayValue else {
                    throw PluginError("payload.command must be an array of strings, got \(command.typeName)")
                }
                guard !array.isEmpty else { throw PluginError("payload.command must not be empty") }
                argv = try array.enumerated().map { index, element in
                    guard let text = element.stringValue, !text.utf8.contains(0) else {
                        throw PluginError("payload.command must be an array of strings "
                            + "(payload.command[\(index)] is \(element.typeName))")
                    }
                    return text
                }
                guard !argv[0].isEmpty else { throw PluginError("payload.command[0] must not be empty") }
            }
            var env: [(String, String)] = []
            if let value = present("env") { env = try EnvironmentVariables.parse(value, field: "payload.env") }
            let workdir = try path("workdir").get()
            if let workdir, !workdir.hasPrefix("/") {
                throw PluginError("payload.workdir must be an absolute path inside the container, got \(workdir)")
            }
            var rootfs = try path("rootfs").get()
            var bundle = try path("bundle").get()
            var image = try path("image").get()
            let chosen = [rootfs, bundle, image].compactMap { $0 }.count
            if chosen > 1 { throw PluginError("payload may name one of rootfs, bundle and image, not several") }
            if chosen == 0 {
                rootfs = defaults.rootfs
                bundle = defaults.bundle
                image = defaults.image
            }
            var mounts: [Mount] = []
            if let value = present("mounts") { mounts = try parseMounts(value) }
            var network = defaults.network
            if let value = present("network") {
                guard let text = value.stringValue, text == "none" || text == "host" else {
                    throw PluginError("payload.network must be \"none\" or \"host\", got \(value)")
                }
                network = text
            }
            var limits = defaults.limits
            if let value = present("memory") { limits.memoryBytes = try parseMemory(value, field: "payload.memory") }
            if let value = present("cpus") { limits.cpus = try parseCPUs(value, field: "payload.cpus") }
            if let value = present("pids") { limits.pids = try parsePids(value, field: "payload.pids") }
            return .success(ContainerJob(
                argv: argv, env: env, workdir: workdir, rootfs: rootfs.map(Files.absolute),
                bundle: bundle.map(Files.absolute), image: image, mounts: mounts, network: network, limits: limits))
        } catch let error as PluginError {
            return .failure(error)
        } catch {
            return .failure(PluginError("\(error)"))
        }
    }
}

/// The executor config's defaults for every phase.
struct ContainerDefaults {
    var shell = ["/bin/sh", "-c"]
    var rootfs: String?
    var bundle: String?
    var image: String?
    var network = "none"
    var limits = Limits()
    var readOnlyRootfs = true
}

// MARK: - Field parsers (errors name the field)

/// `mounts`: an array of `{source, destination, readWrite}` objects or "SRC:DST[:ro|rw]" strings.
func parseMounts(_ value: JSON) throws(PluginError) -> [Mount] {
    guard let array = value.arrayValue else {
        throw PluginError("payload.mounts must be an array, got \(value.typeName)")
    }
    var mounts: [Mount] = []
    for (index, element) in array.enumerated() {
        let field = "payload.mounts[\(index)]"
        var mount: Mount
        if let text = element.stringValue {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || (parts.count == 3 && (parts[2] == "ro" || parts[2] == "rw")) else {
                throw PluginError("\(field) must be \"SOURCE:DESTINATION[:ro|rw]\", got \"\(text)\"")
            }
            mount = Mount(source: parts[0], destination: parts[1], readWrite: parts.count == 3 && parts[2] == "rw")
        } else if let object = element.objectValue {
            guard let source = object["source"]?.stringValue else { throw PluginError("\(field).source must be a string") }
            guard let destination = (object["destination"] ?? object["target"])?.stringValue else {
                throw PluginError("\(field).destination must be a string")
            }
            var readWrite = false
            if let flag = object["readWrite"], !flag.isNull {
                guard let bool = flag.boolValue else { throw PluginError("\(field).readWrite must be a boolean") }
                readWrite = bool
            }
            mount = Mount(source: source, destination: destination, readWrite: readWrite)
        } else {
            throw PluginError("\(field) must be an object or a string, got \(element.typeName)")
        }
        guard !mount.source.isEmpty, !mount.source.utf8.contains(0) else { throw PluginError("\(field).source is empty") }
        guard mount.destination.hasPrefix("/"), !mount.destination.utf8.contains(0) else {
            throw PluginError("\(field).destination must be an absolute path, got \"\(mount.destination)\"")
        }
        mount.source = Files.absolute(mount.source)
        var info = stat()
        guard stat(mount.source, &info) == 0 else {
            throw PluginError("\(field).source \(mount.source): \(SystemText.error(errno))")
        }
        mounts.append(mount)
    }
    return mounts
}

/// Bytes, from an integer or "512k", "64m", "1g", "1.5GiB" (binary units).
func parseMemory(_ value: JSON, field: String) throws(PluginError) -> Int64 {
    if let int = value.intValue, int > 0 { return Int64(int) }
    guard var text = value.stringValue?.lowercased() else {
        throw PluginError("\(field) must be a number of bytes or a string like \"256m\", got \(value.typeName)")
    }
    for suffix in ["ib", "b"] where text.hasSuffix(suffix) { text.removeLast(suffix.count); break }
    var scale: Double = 1
    if let last = text.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(last)] {
        scale = Double(1 << (10 * power))
        text.removeLast()
    }
    guard let number = Double(text), number > 0, (number * scale) < 9.2e18 else {
        throw PluginError("\(field) must be a number of bytes or a string like \"256m\", got \(value)")
    }
    return Int64(number * scale)
}

func parseCPUs(_ value: JSON, field: String) throws(PluginError) -> Double {
    guard let number = value.doubleValue ?? value.stringValue.flatMap(Double.init), number > 0, number <= 1024 else {
        throw PluginError("\(field) must be a positive number of CPUs (e.g. 0.5), got \(value)")
    }
    return number
}

func parsePids(_ value: JSON, field: String) throws(PluginError) -> Int64 {
    guard let int = value.intValue, int > 0 else { throw PluginError("\(field) must be a positive integer, got \(value)") }
    return Int64(int)
}

/// Where the attempt's PLANTER_INPUTS / PLANTER_OUTPUTS folder appears inside the container.
let containerIODir = "/planter"
