import Synchronization

/// Tells the service when attempts start and phases finish, so it can save progress during long runs.
struct ProgressSink: EventSink {
    let service: PlanterService

    func receive(_ event: RunEvent) {
        // Started attempts too, so that after a crash the run shows what was running. Saves
        // are coalesced (progressSaveInterval): this adds none on a busy run's hot path.
        guard event.kind == .phaseFinished || event.kind == .attemptStarted else { return }
        // One task per scheduled save, not one per event.
        guard !service.saveScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let service = self.service
        Task { await service.noteProgress() }
    }
}
