// PlanterJSON: the JSON value type, parser and writer that requests, results, manifests and
// API answers travel in. Fast (no Foundation, no Codable), bounded (depth, UTF-8, finite
// numbers), with line/column errors; objects keep their key order.
//
// May import: the standard library only. Everything else in Planter, plugins included, builds on it.
