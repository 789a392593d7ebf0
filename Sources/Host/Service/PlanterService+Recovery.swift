import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON

/// After a crash: the run that was in flight may have left phase processes running (an
/// orphaned `sh -c` and what it started). They are killed before anything can resume, or a
/// resumed run would start the same phase again beside them: two copies of one attempt.
extension PlanterService {
    /// The instance token from the state folder (made on the first start).
    func loadOwner(_ warnings: inout [String]) {
        let folder = (stateFile.path as NSString).deletingLastPathComponent
        do {
            owner = try InstanceToken.loadOrCreate(folder: folder)
        } catch {
            owner = nil
            warnings.append("cannot keep an instance token in \(folder) (\(error)): after a crash, processes left running "
                + "by a run cannot be found and killed")
        }
    }

    /// Kills what run `runId` left running, logs each kill, then marks the run (and its
    /// phases that had not ended) interrupted in the history.
    /// `remote`: results of attempts that ran on workers and ended while Planter was down;
    /// `processOwner`: the instance token of the Planter whose run it was (a lease takeover), else ours.
    func recoverInterruptedRun(_ runId: String, remote: [String: ExecuteResult] = [:], _ warnings: inout [String],
                               owner processOwner: String? = nil) {
        let entry = state.run(runId)
        var killedAttempts: [String: String] = [:]  // phase id → attempt, from the processes killed
        if let owner = processOwner ?? owner {
            // An attempt the saved run records as ended had its process group killed when it
            // ended; what is left of it left that group on purpose (a daemon): spared.
            var ended = Set<String>()
            for phase in entry?.result.phases ?? [] {
                for attempt in phase.attempts where attempt.status.isFinal { ended.insert("\(phase.id)\u{0}\(attempt.attempt)") }
            }
            switch Leftovers.kill(owner: owner, runId: runId, spare: { ended.contains("\($0)\u{0}\($1)") }) {
            case .success(let killed):
                for process in killed {
                    killedAttempts[process.phaseId] = process.attempt
                    warnings.append("killed a process left running by interrupted run \(runId): \(process.description)")
                }
            case .failure(let error):
                warnings.append("run \(runId) was interrupted, and \(error); processes it left running may still run")
            }
        }
        guard var entry else { return }
        for (phaseId, result) in remote where Self.adopt(result, of: phaseId, into: &entry) {
            warnings.append("phase \(phaseId) of interrupted run \(runId) \(result.status.rawValue) on worker \(result.worker ?? "?") "
                + "while Planter was down: its result is kept")
        }
        Self.markInterrupted(&entry, at: .now(), killed: killedAttempts)
        state.record(entry)
        history?.record(run: entry)
        // What succeeded before the crash is not run again by the resume.
        recordOutcomes(entry.result)
        for phase in entry.result.phases where phase.message.hasPrefix(Self.interruptedPrefix) {
            state.phaseStates[phase.id] = PhaseState(status: phase.status, runId: runId, message: phase.message,
                                                     updatedAt: phase.endedAt)
        }
    }

    /// A worker's result for the phase's running attempt (succeeded or failed; a cancelled one
    /// is what the restart stopped, and reads interrupted). True when it was taken.
    static func adopt(_ result: ExecuteResult, of phaseId: String, into entry: inout RunEntry) -> Bool {
        guard result.status == .succeeded || result.status == .failed,
            let index = entry.result.phases.firstIndex(where: { $0.id == phaseId }),
            let last = entry.result.phases[index].attempts.indices.last,
            entry.result.phases[index].attempts[last].status == .running
        else { return false }
        let status: PhaseStatus = result.status == .succeeded ? .succeeded : .failed
        let message = "ended on worker \(result.worker ?? "?") while Planter was down" + (result.message.isEmpty ? "" : ": \(result.message)")
        var phase = entry.result.phases[index]
        phase.attempts[last].status = status
        phase.attempts[last].endedAt = .now()
        phase.attempts[last].exitCode = result.exitCode
        phase.attempts[last].message = message
        phase.attempts[last].worker = result.worker
        phase.status = status
        phase.message = message
        if status == .succeeded { phase.outputs = result.outputs }
        entry.result.phases[index] = phase
        return true
    }

    /// State files of earlier versions kept an interrupted run `running`, flagged `interrupted`.
    func upgradeInterruptedRuns() {
        for var entry in state.runs where entry.interrupted && entry.result.status == .running {
            Self.markInterrupted(&entry, at: entry.result.endedAt)
            state.record(entry)
        }
    }

    static let interruptedPrefix = "interrupted:"

    /// The run reads `interrupted`; a phase that was running reads failed (its attempt was
    /// killed, or died with Planter), one that was waiting to start reads skipped.
    /// `killed`: phases whose processes were found running (phase id → attempt), which the
    /// saved progress may not show yet (saves are coalesced).
    static func markInterrupted(_ entry: inout RunEntry, at now: Timestamp, killed: [String: String] = [:]) {
        entry.interrupted = true
        entry.result.status = .interrupted
        entry.result.endedAt = now
        for index in entry.result.phases.indices where !entry.result.phases[index].status.isFinal {
            var phase = entry.result.phases[index]
            if let last = phase.attempts.indices.last, phase.attempts[last].status == .running {
                let number = phase.attempts[last].attempt
                phase.attempts[last].status = .failed
                phase.attempts[last].endedAt = now
                phase.attempts[last].message = "\(interruptedPrefix) Planter stopped while attempt \(number) ran"
                    + (killed[phase.id] != nil ? "; its processes were killed" : "")
                phase.status = .failed
                phase.message = phase.attempts[last].message
            } else if let attempt = killed[phase.id] {
                phase.status = .failed
                phase.message = "\(interruptedPrefix) Planter stopped while attempt \(attempt) ran; its processes were killed"
            } else if let last = phase.attempts.last {
                // Backing off before a retry.
                phase.status = last.status.isFinal ? last.status : .failed
                phase.message = "\(interruptedPrefix) Planter stopped before attempt \(last.attempt + 1) (\(last.message))"
            } else {
                phase.status = .skipped
                phase.message = "\(interruptedPrefix) Planter stopped before it started"
            }
            entry.result.phases[index] = phase
        }
    }

    /// This Planter took the namespace's lease: the state the last holder kept in Redis
    /// replaces ours (and our state file), and a run it left in flight is recovered as after a
    /// crash (its leftovers, tagged with the holder's instance token, killed when they run on
    /// this machine) and resumed. Returns warnings for the log.
    public func takeOver(state document: [UInt8], previousOwner: String) async -> [String] {
        var warnings: [String] = []
        guard active == nil else { return warnings }
        do {
            try StateFile.writeAtomically(document, to: stateFile.path)
        } catch {
            return ["cannot take over the namespace's state from Redis: \(error)"]
        }
        guard case .loaded(let loaded) = stateFile.load() else {
            return ["the namespace's state in Redis cannot be read; keeping none"]
        }
        state = loaded
        if let runId = state.inFlightRunId {
            await mergeStoredProgress(of: runId, &warnings)
            let remote = await configuration.recoverRemoteAttempts?(runId) ?? [:]
            recoverInterruptedRun(runId, remote: remote, &warnings, owner: previousOwner)
            state.inFlightRunId = nil
            trySave(&warnings)
            do {
                _ = try await apply(wait: false, triggeredBy: "takeover")
                warnings.append("took over the namespace's lease: resuming interrupted run \(runId)")
            } catch {
                warnings.append("took over the namespace's lease; interrupted run \(runId) cannot resume: \(error)")
            }
        }
        return warnings
    }
}
