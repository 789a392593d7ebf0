// PlanterServer: the HTTP API of the Phase Manifest Protocol over a PlanterService.
//
// Routes/ (one file per area, RouteTable dispatch), Middleware/ (auth, errors, metrics),
// Support/ (query parameters, request bodies, replies, request ids), Metrics/, Lifecycle/
// (signals, shutdown, sync-from as services with run()), openapi.yaml (served and checked
// by schemathesis), Dashboard/ (the web page under /ui/ and GET /graph.svg, laid out by a `dot`
// subprocess). Request context types carry per-request state; nothing global.
//
// May import: PlanterHost and the modules its API speaks in (PlanterDeployment, PlanterDocument,
// PlanterCore, PlanterJSON), Hummingbird, swift-service-lifecycle, swift-log, swift-metrics,
// Prometheus, AsyncHTTPClient (sync-from), ProcessSupport (the dashboard's `dot` process group).
// Not ExecutorKit, not the C ABI.
