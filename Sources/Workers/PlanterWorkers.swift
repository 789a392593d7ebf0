// PlanterWorkers: phases on `planter worker` processes on any number of machines, through NATS
// JetStream work queues. The server side (RemoteDispatcher, RemotePoolExecutor) publishes each
// attempt as a work item and follows it; the worker side (WorkerProgram) fetches items of its
// pool, runs them with its own deployment's executors, and publishes results durably.
//
// May import: PlanterMessaging, ExecutorRuntime, PlanterDeployment, PlanterCore, PlanterJSON.
// Nothing of the server or the engine: a worker needs no HTTP port and no state of its own.
//
// Who decides what (the lessons of Temporal, Celery and Nomad in shared/notes): Planter owns the
// attempt numbering and the retry policy (MaxDeliver 1: JetStream never redelivers an attempt);
// Planter accepts exactly one result per dispatch and drops stale ones (JetStream acks are no
// fence); a worker that cannot confirm its heartbeat for half the lease kills its phase itself,
// before Planter declares it lost, so two copies never overlap.
