// ExecutorRuntime: the host's side of executors, shared by the engine (PlanterHost),
// planter-executor-host and any other process that runs phases (a remote worker).
//
// The Executor protocol and its request/result types (ABI JSON, written and read directly),
// CallContext (streamed output, logs, cancellation), the dlopen loader (Plugins/: Plugin,
// PluginLoader, PluginCatalog, PluginExecutor) and the subprocess protocol (Subprocess/:
// SubprocessProtocol, SubprocessExecutor, ExecutorProcess).
//
// May import: PlanterCore, PlanterJSON, ExecutorAPI (the C header), ProcessSupport, and ExecutorKit
// internally (the executor process's I/O thread runs on its ChildWatcher; no SDK type is in this
// module's API). Not the manifest model, not the deployment config, not the server, not Yams.
