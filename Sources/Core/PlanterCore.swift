// PlanterCore: the vocabulary every stage shares, so the stages import it and not each other.
//
// Problems and where they are (Problem, Problems, ValidationFailure), labels, durations
// (PlanDuration), retry backoff, log levels and output channels, secret masking, "did you
// mean" suggestions (NearestName), and the small runtime pieces the engine's threads use
// (Monitor/Condition, startThread, Timestamp, MinHeap, StandardError).
//
// May import: PlanterJSON and the standard library (Glibc, Synchronization). No Foundation,
// no Yams, nothing of Planter above it.
