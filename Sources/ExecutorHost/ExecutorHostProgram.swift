import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The program: reads its arguments, moves the protocol channel off fds 0 and 1, loads the
/// plugin and serves it (PluginSession) until the host closes stdin.
enum ExecutorHostProgram {
    static let usage = "usage: planter-executor-host PLUGIN.so [--name NAME]"

    static func main(arguments: [String]) -> Never {
        var pluginPath: String?
        var name: String?
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--name":
                guard let value = rest.popFirst() else { fail("--name needs a value\n\(usage)") }
                name = value
            case "-h", "--help":
                StandardOutput.write(usage + "\n")
                exit(0)
            default:
                guard pluginPath == nil, !argument.hasPrefix("-") else { fail("unexpected argument \(argument)\n\(usage)") }
                pluginPath = argument
            }
        }
        guard let pluginPath else { fail(usage) }

        // The protocol gets private copies of stdin and stdout; fd 0 becomes /dev/null and fd 1 goes
        // to stderr, so a plugin that reads stdin or prints cannot corrupt the message stream (what it
        // prints becomes host log lines).
        let input = fcntl(0, F_DUPFD_CLOEXEC, 3)
        let output = fcntl(1, F_DUPFD_CLOEXEC, 3)
        guard input >= 0, output >= 0 else { fail("cannot set up the protocol channel: \(String(cString: strerror(errno)))") }
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 { dup2(null, 0); close(null) }
        dup2(2, 1)

        let plugin: Plugin
        do {
            plugin = try PluginLoader.load(path: pluginPath)
        } catch {
            fail("cannot load \(error.path): \(error.reason)")
        }
        let session = PluginSession(plugin: plugin, instanceName: name ?? plugin.name, output: output)
        session.run(input: input)
        exit(0)
    }

    static func fail(_ message: String) -> Never {
        StandardError.write("planter-executor-host: \(message)\n")
        exit(2)
    }
}
