import Foundation

#if canImport(Glibc)
import Glibc
#endif

public struct SpawnFailure: Error, CustomStringConvertible {
    public var description: String
}

/// Starts a process the tests kill as a whole (`planter serve`, nats-server, redis-server):
/// its own process group, no blocked signals, default dispositions, stdin from /dev/null,
/// stdout and stderr appended to `logPath`, no other descriptor inherited. Reap it with waitpid
/// (never Foundation's Process, which reaps on its own).
public func spawnProcessGroup(_ arguments: [String], environment: [String: String], logPath: String) throws(SpawnFailure) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Close every other descriptor in the child (glibc ≥ 2.34; declared only with _GNU_SOURCE).
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Its own process group (killed as a whole), no blocked signals, default dispositions.
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    posix_spawnattr_setpgroup(&attributes, 0)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard status == 0 else { throw SpawnFailure(description: "posix_spawn \(arguments[0]) failed: \(String(cString: strerror(status)))") }
    return pid
}
