// PlanterStore: the embedded history store, SQLite in `$PLANTER_ROOT/state/history.db` (WAL).
// It keeps what the API reports about the past so that it survives a restart: every applied
// plan revision, every run (its result, its attempts, its phases' outcomes) and every event.
// It knows rows, not runs: PlanterHost turns its events and results into the records here.
//
// May import: CSQLite, PlanterCore, PlanterJSON. Nothing of the engine, the server or executors.
// Every SQLite call runs on the store's own thread (HistoryStore), never on the Swift
// concurrency pool or an event loop; writes are batched in transactions.
