// A runc environment for the tests that run the container plugin (ContainerExecutorTests and the
// contract suite): a rootfs of Debian's busybox-static, a private runc state root and work folder.
import ExecutorRuntime
import PlanterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public struct ContainerEnvironment: Sendable {
    public var rootfs: String
    public var stateRoot: String
    public var workDir: String

    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// The container plugin's config for this environment, over `config`.
    public func config(_ config: JSON = [:]) -> JSON {
        var object = config.objectValue ?? JSONObject()
        object["runtime"] = object["runtime"] ?? "runc"
        object["rootfs"] = object["rootfs"] ?? .string(rootfs)
        object["stateRoot"] = .string(stateRoot)
        object["workDir"] = .string(workDir)
        return .object(object)
    }

    /// An environment with a state root and work folder of its own, so `runc list` and the leftover
    /// checks of one test see only its own containers while tests run in parallel; or why there is none.
    public static func fresh() -> Result<ContainerEnvironment, Missing> {
        switch shared {
        case .success(var env):
            for keyPath in [\ContainerEnvironment.stateRoot, \ContainerEnvironment.workDir] {
                var template = Array((env[keyPath: keyPath] + "/t-XXXXXX").utf8CString)
                guard let made = mkdtemp(&template) else { return .failure(Missing(description: "mkdtemp failed")) }
                env[keyPath: keyPath] = String(cString: made)
            }
            return .success(env)
        case .failure(let missing):
            return .failure(missing)
        }
    }

    /// Built once per test process: a rootfs of busybox-static plus symlinks, and a check
    /// that runc can start a container here. Either gives the environment or the reason.
    public static let shared: Result<ContainerEnvironment, Missing> = {
        guard findExecutable("runc") != nil else {
            return .failure(Missing(description: "runc is not installed (Debian: apt-get install -y runc busybox-static)"))
        }
        let busybox = (["/bin/busybox", "/usr/bin/busybox"] as [String]).first { access($0, X_OK) == 0 }
        guard let busybox else {
            return .failure(Missing(description: "busybox is not installed (Debian: apt-get install -y busybox-static)"))
        }
        var template = Array("/tmp/planter-container-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return .failure(Missing(description: "mkdtemp failed")) }
        let base = String(cString: made)
        testRoot.withLock { $0 = base }
        atexit { ContainerEnvironment.cleanUp() }
        let rootfs = base + "/rootfs"
        for dir in [rootfs, rootfs + "/bin", rootfs + "/proc", rootfs + "/dev", rootfs + "/sys", rootfs + "/tmp",
                    rootfs + "/etc", rootfs + "/data", rootfs + "/m", rootfs + "/planter", base + "/state", base + "/work"] as [String] {
            mkdir(dir, 0o755)
        }
        guard copyFile(busybox, to: rootfs + "/bin/busybox") else {
            return .failure(Missing(description: "cannot copy \(busybox) into the rootfs"))
        }
        for applet in ["sh", "echo", "cat", "sleep", "ls", "pwd", "touch", "hostname", "wc", "kill", "printf", "ip", "true"] {
            symlink("busybox", rootfs + "/bin/" + applet)
        }
        let env = ContainerEnvironment(rootfs: rootfs, stateRoot: base + "/state", workDir: base + "/work")
        // Can runc start a container on this machine at all? If not, say exactly why.
        do {
            let executor = try BuiltPlugin.load("container").makeExecutor(name: "container", config: env.config())
            let collector = Collector()
            let request = ExecuteRequest(runId: "r-test", phaseId: "p", executor: "container", payload: ["script": "echo ok"])
            let result = executor.execute(request, call: CallContext(output: { collector.append($0, $1) }))
            let run = collector.run(result)
            guard run.result.status == .succeeded, run.stdout == "ok\n" else {
                return .failure(Missing(description: "runc cannot start containers on this machine: \(run.result.message); "
                    + "runc's stderr: \(run.stderr)"))
            }
        } catch {
            return .failure(Missing(description: "cannot load the container plugin: \(error)"))
        }
        return .success(env)
    }()

    static let testRoot = Mutex<String?>(nil)

    static func cleanUp() {
        guard let root = testRoot.withLock({ $0 }) else { return }
        removeTree(root)
    }
}

public func findExecutable(_ name: String) -> String? {
    let path = (getenv("PATH").map { String(cString: $0) } ?? "") + ":/usr/sbin:/sbin"
    for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
    return nil
}

func copyFile(_ source: String, to destination: String) -> Bool {
    guard let input = fopen(source, "rb"), let output = fopen(destination, "wb") else { return false }
    defer { fclose(input) }
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, input)
        if n <= 0 { break }
        fwrite(buffer, 1, n, output)
    }
    fclose(output)
    return chmod(destination, 0o755) == 0
}
