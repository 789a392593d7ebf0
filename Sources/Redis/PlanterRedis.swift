// PlanterRedis: a Redis client on hiredis 0.14.1 (Debian's libhiredis-dev, through CHiredis), and
// the history kept in Redis when `REDIS_URL` is set (RedisHistory: plans, runs, attempts,
// events, under `planter:{<namespace>}:…`).
//
// May import: CHiredis, PlanterCore, PlanterJSON, PlanterStore (the history's record types).
// Nothing of the engine or the server. hiredis blocks: every call runs on a thread the
// module owns (RedisClient), never on the Swift concurrency pool or an event loop.
