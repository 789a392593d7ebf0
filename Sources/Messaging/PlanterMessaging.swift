// PlanterMessaging: Planter's NATS client, over nats.c 3.4.1 (Debian's libnats-dev, the CNATS
// system library target). It knows subjects, messages and headers, not plans: the session
// interface (Sources/Server/Sessions) and the worker pools build on it.
//
// May import: CNATS, PlanterCore. Nothing of the engine, the server or executors.
//
// Threads: nats.c runs every subscription's handler on a delivery thread of its own and the
// connection callbacks on one library thread. Handlers given to this module must be quick
// (hand the message to a task or a queue); calls that block (request, flush, close) are made
// on threads of their own (`startThread`), never on the Swift concurrency pool.
