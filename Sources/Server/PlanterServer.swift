// PlanterServer: the HTTP API of the Phase Manifest Protocol over a PlanterService.
//
// Routes/ (one file per area, RouteTable dispatch), Middleware/ (auth, errors, metrics),
// Support/ (query parameters, request bodies, replies, request ids), Metrics/, Lifecycle/
// (signals, shutdown, sync-from as services with run()), openapi.yaml (served and checked
// by schemathesis). Request context types carry per-request state; nothing global.
//
// May import: PlanterHost and the modules its API speaks in (PlanterDeployment, PlanterDocument,
// PlanterCore, PlanterJSON), Hummingbird, swift-service-lifecycle, swift-log, swift-metrics,
// Prometheus, AsyncHTTPClient (sync-from). Not ExecutorKit, not the C ABI.
