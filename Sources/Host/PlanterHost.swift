// PlanterHost: the engine, as a pipeline whose folders read in order:
//   Manifest/    the Phase Manifest model and its decoding/encoding (any spelling, JSON or YAML)
//   Validation/  a manifest checked against the deployment: a Plan, or every problem at once
//   Graph/       the phase dependency graph: order, cycles, unknown phases, what is reachable
//   Diff/        what changed between the plan applied before and the one submitted
//   Runner/      runs a Plan on executor instances: attempts, retries, handlers, time limits, events
//   Service/     PlanterService: staged/applied plans, runs, progress and answers for the API
//   Store/       what survives a restart: the state file, the instance token, leftover processes
//
// May import: PlanterCore, PlanterDocument, ExecutorRuntime, PlanterDeployment, PlanterJSON,
// ProcessSupport, Foundation (files only). Not Hummingbird: the HTTP API lives in PlanterServer.
