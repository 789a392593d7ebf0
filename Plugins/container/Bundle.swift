import ExecutorKit

#if canImport(Glibc)
import Glibc
#endif

/// The OCI bundle runc runs an attempt from: the attempt's folder, holding a config.json made
/// from the job (and from the job's own bundle's config.json, when it names one).
enum RuncBundle {
    /// Writes `attemptDir/config.json`; returns an error text or nil.
    static func write(job: ContainerJob, env: [String], readOnlyDefault: Bool, ioDir: String, into attemptDir: String)
        -> String?
    {
        var rootPath = job.rootfs ?? ""
        var base: JSONObject?
        if let bundle = job.bundle {
            switch Files.read(bundle + "/config.json", limit: 4 << 20) {
            case .success(let bytes):
                guard let parsed = try? JSONParser.parse(bytes), let object = parsed.objectValue else {
                    return "\(bundle)/config.json is not a JSON object"
                }
                base = object
                let root = object["root"]?["path"]?.stringValue ?? "rootfs"
                rootPath = root.hasPrefix("/") ? root : bundle + "/" + root
            case .failure(let error):
                return "cannot read the bundle's config.json: \(error)"
            }
        }
        // runc refuses a root that is reached through a symbolic link.
        if let resolved = realpath(rootPath, nil) {
            rootPath = String(cString: resolved)
            free(resolved)
        }
        let readOnly = base?["root"]?["readonly"]?.boolValue ?? readOnlyDefault
        let config = ociConfig(job: job, env: env, rootPath: rootPath, readOnlyRoot: readOnly, ioDir: ioDir,
                               hostname: "planter", base: base)
        return Files.write(config, to: attemptDir + "/config.json")
    }
}

/// Writes the bundle's config.json for runc: the process, its root, mounts, namespaces
/// and limits. `base` is an OCI bundle's own config.json when the job names one.
func ociConfig(
    job: ContainerJob, env: [String], rootPath: String, readOnlyRoot: Bool, ioDir: String, hostname: String,
    base: JSONObject?
) -> [UInt8] {
    var config = base ?? JSONObject()
    config["ociVersion"] = config["ociVersion"] ?? "1.0.2"

    var process = config["process"]?.objectValue ?? JSONObject()
    process["terminal"] = false
    process["args"] = .array(job.argv.map(JSON.string))
    var environment = process["env"]?.arrayValue?.compactMap(\.stringValue) ?? []
    if base == nil { environment = [] }
    let ours = Set(env.map { String($0.prefix { $0 != "=" }) })
    environment.removeAll { ours.contains(String($0.prefix { $0 != "=" })) }
    environment.append(contentsOf: env)
    process["env"] = .array(environment.map(JSON.string))
    process["cwd"] = .string(job.workdir ?? process["cwd"]?.stringValue ?? "/")
    if process["user"] == nil { process["user"] = ["uid": 0, "gid": 0] }
    if base == nil {
        let caps: JSON = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        process["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps, "ambient": caps]
        process["rlimits"] = [["type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024]]
        process["noNewPrivileges"] = true
    }
    config["process"] = .object(process)
    config["root"] = ["path": .string(rootPath), "readonly": .bool(readOnlyRoot)]
    if config["hostname"] == nil { config["hostname"] = .string(hostname) }

    var mounts = config["mounts"]?.arrayValue ?? []
    if base == nil {
        mounts = [
            ["destination": "/proc", "type": "proc", "source": "proc"],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
            ["destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]],
            ["destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]],
            ["destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]],
            ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]],
            ["destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]],
            ["destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]],
        ]
    }
    mounts.append(["destination": .string(containerIODir), "type": "bind", "source": .string(ioDir),
                   "options": ["rbind", "rw"]])
    for mount in job.mounts {
        mounts.append(["destination": .string(mount.destination), "type": "bind", "source": .string(mount.source),
                       "options": ["rbind", mount.readWrite ? "rw" : "ro"]])
    }
    config["mounts"] = .array(mounts)

    var linux = config["linux"]?.objectValue ?? JSONObject()
    var namespaces = linux["namespaces"]?.arrayValue
        ?? [["type": "pid"], ["type": "ipc"], ["type": "uts"], ["type": "mount"]]
    namespaces.removeAll { $0["type"]?.stringValue == "network" }
    if job.network == "none" { namespaces.append(["type": "network"]) }
    linux["namespaces"] = .array(namespaces)
    var resources = linux["resources"]?.objectValue ?? ["devices": [["allow": false, "access": "rwm"]]]
    if let bytes = job.limits.memoryBytes { resources["memory"] = ["limit": .int(bytes)] }
    if let cpus = job.limits.cpus {
        resources["cpu"] = ["quota": .int(Int64((cpus * 100_000).rounded())), "period": 100_000]
    }
    if let pids = job.limits.pids { resources["pids"] = ["limit": .int(pids)] }
    linux["resources"] = .object(resources)
    if base == nil {
        linux["maskedPaths"] = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
        linux["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    }
    config["linux"] = .object(linux)

    var writer = JSONWriter(capacity: 4096)
    writer.write(.object(config))
    writer.bytes.append(0x0A)
    return writer.bytes
}

