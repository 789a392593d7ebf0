// planter-executor-host PLUGIN.so [--name NAME]
//
// Loads an executor plugin and serves it over the subprocess protocol on stdin/stdout, so the
// host can run any plugin out of process (`isolation: process` in the deployment config).
// ExecutorHostProgram reads the arguments; PluginSession serves the protocol; see
// Sources/ExecutorAPI/README.md. Imports ExecutorRuntime (loader, protocol) and nothing of the
// engine: no manifest, no server, no YAML.
ExecutorHostProgram.main(arguments: CommandLine.arguments)
