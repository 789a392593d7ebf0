// planter-executor-host PLUGIN.so [--name NAME]
//
// Loads an executor plugin and serves it over the subprocess protocol on stdin/stdout, so the
// host can run any plugin out of process (`isolation: process` in the deployment config).
// Everything lives in ExecutorHostServer.swift; see Sources/ExecutorAPI/README.md.
ExecutorHostServer.main(arguments: CommandLine.arguments)
