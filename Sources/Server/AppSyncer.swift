import Foundation
import GitSource
import Logging
import Reconcile
import Store

/// What asked for a sync. Several arriving while one runs coalesce into the next sync.
public enum Trigger: String, Sendable, Codable, CaseIterable {
    case startup, poll, webhook, dockerEvent = "docker-event", api, rollback, resume

    /// Poll retries of a failing app wait for the backoff (unless the poll brings a new head);
    /// everything else goes at once.
    var respectsBackoff: Bool { self == .poll }
}

/// The app's condition, in the words of the status page and the API.
public enum AppHealth: String, Sendable, Codable {
    /// No sync has finished yet.
    case unknown = "Unknown"
    /// The host runs what the repo says.
    case synced = "Synced"
    /// The last sync failed; the last good release keeps running.
    case degraded = "Degraded"
    /// An operator stopped syncing.
    case suspended = "Suspended"
}

/// A snapshot of one app's state for the API and the status page.
public struct AppStatus: Sendable, Codable, Equatable {
    public var name: String
    public var health: AppHealth
    public var syncing: Bool
    /// Commit the host runs (the last good sync's).
    public var revision: String?
    /// Commit the last sync aimed at (the branch head, or a rolled-back release's commit).
    public var targetRevision: String?
    public var release: Int64?
    public var lastError: String?
    public var lastSyncAt: Date?
    public var lastSuccessAt: Date?
    public var consecutiveFailures: Int
    public var nextRetryAt: Date?
    public var suspended: Bool
    /// Set after a rollback: syncs keep deploying this release until resume.
    public var pinnedRelease: Int64?
    public var syncs: Int

    init(name: String) {
        self.name = name
        health = .unknown
        syncing = false
        consecutiveFailures = 0
        suspended = false
        syncs = 0
    }
}

/// Shared parts every app's syncer uses.
public struct SyncEnvironment: Sendable {
    public var source: RepoSource
    public var deployer: Deployer
    public var store: Store
    public var metrics: ServeMetrics
    public var notifier: Notifier
    /// Removes old git snapshots after each successful sync; nil keeps them all.
    public var snapshots: SnapshotKeeper?
    public var logger: Logger
    /// First retry delay after a failure; doubles per failure up to `maxBackoff`.
    public var backoff: Duration
    public var maxBackoff: Duration

    public init(source: RepoSource, deployer: Deployer, store: Store, metrics: ServeMetrics, notifier: Notifier,
                snapshots: SnapshotKeeper? = nil, logger: Logger, backoff: Duration = .seconds(10),
                maxBackoff: Duration = .seconds(600)) {
        self.source = source
        self.snapshots = snapshots
        self.deployer = deployer
        self.store = store
        self.metrics = metrics
        self.notifier = notifier
        self.logger = logger
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }
}

/// Runs the syncs of one app, one at a time. Triggers that arrive while a sync runs are merged
/// into a single following sync, so a burst of events costs one sync.
public actor AppSyncer {
    public nonisolated let name: String
    let env: SyncEnvironment
    var status: AppStatus
    var pending: Set<Trigger> = []
    var waiters: [CheckedContinuation<AppStatus, Never>] = []
    var stopping = false
    /// The commit whose last sync failed; a self-heal does not retry it but restores the last good release.
    var failedCommit: String?
    /// A self-heal failed (e.g. the container was still being removed); the retries heal again
    /// instead of retrying the broken head.
    var healPending = false
    /// The images the last successful sync built, by commit: a resync of the same commit deploys
    /// them again without archiving contexts or asking the registry.
    var lastBuilt: (commit: String, images: [String: String])?
    /// A head commit fetched by the supervisor for the triggers pending.
    var knownHead: String?
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// After a failure, a timer that retries when the backoff ends, so a fault that clears
    /// (registry back, git server back) is picked up without waiting for the next poll.
    private var retryTimer: Task<Void, Never>?

    public init(name: String, environment: SyncEnvironment) {
        self.name = name
        self.env = environment
        self.status = AppStatus(name: name)
        let stream = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeups = stream.stream
        wake = stream.continuation
    }

    public func currentStatus() -> AppStatus { status }

    /// Asks for a sync; returns at once.
    /// - Parameter head: the branch head the caller has just fetched; the sync uses it instead
    ///   of fetching again (a poll of many apps costs one fetch, not one per app).
    public func trigger(_ trigger: Trigger, head: String? = nil) {
        guard !stopping else { return }
        pending.insert(trigger)
        if let head { knownHead = head }
        wake.yield()
    }

    /// Asks for a sync and waits until one that started after this call has finished.
    public func syncAndWait(_ trigger: Trigger) async -> AppStatus {
        guard !stopping else { return status }
        return await withCheckedContinuation { continuation in
            waiters.append(continuation)
            self.trigger(trigger)
        }
    }

    /// Ends the loop after the sync in flight (if any) finishes; later triggers are ignored.
    public func stop() {
        stopping = true
        retryTimer?.cancel()
        wake.finish()
    }

    private func scheduleRetry(after delay: Duration) {
        retryTimer?.cancel()
        retryTimer = Task { [weak self] in
            do { try await Task.sleep(for: delay) } catch { return }
            // A poll: it respects the backoff, and fetches the head like any poll.
            await self?.trigger(.poll)
        }
    }

    /// The sync loop; returns after `stop()`.
    public func run() async {
        await loadControls()
        for await _ in wakeups {
            if stopping { break }
            let triggers = pending
            pending = []
            let head = knownHead
            knownHead = nil
            let batch = waiters
            waiters = []
            if triggers.isEmpty { resume(batch); continue }
            // A poll that fetched a head other than the one that failed is not a retry: a fix
            // was pushed, or the repo answers again after a fetch outage (those failures have
            // no commit). Either goes now instead of after up to `maxBackoff`.
            let freshHead = head != nil && head != failedCommit
            if triggers.allSatisfy(\.respectsBackoff), !freshHead, let next = status.nextRetryAt, next > Date() {
                env.logger.debug("\(name): backing off until \(next)")
                resume(batch)
                continue
            }
            await sync(triggers, head: head)
            resume(batch)
        }
        resume(waiters)
        waiters = []
    }

    private func resume(_ batch: [CheckedContinuation<AppStatus, Never>]) {
        for w in batch { w.resume(returning: status) }
    }

    private func loadControls() async {
        guard let control = try? await env.store.control(app: name) else { return }
        status.suspended = control.suspended
        status.pinnedRelease = control.pinnedRelease
        if control.suspended { status.health = .suspended }
        if let last = try? await env.store.lastSuccess(app: name) {
            status.revision = last.commit
            status.release = last.releaseID
            status.lastSuccessAt = last.finishedAt
        }
    }

    // MARK: operator controls

    public func suspend() async throws {
        var control = try await env.store.control(app: name)
        control.suspended = true
        try await env.store.setControl(control)
        status.suspended = true
        status.health = .suspended
        try await env.store.recordEvent(Event(app: name, kind: "suspend", message: "syncing suspended"))
    }

    /// Clears suspension and any rollback pin, then syncs the branch head.
    public func resume() async throws {
        var control = try await env.store.control(app: name)
        let wasPinned = control.pinnedRelease
        control.suspended = false
        control.pinnedRelease = nil
        try await env.store.setControl(control)
        status.suspended = false
        status.pinnedRelease = nil
        if status.health == .suspended { status.health = .unknown }
        try await env.store.recordEvent(Event(app: name, kind: "resume",
                                              message: wasPinned.map { "resumed; release \($0) unpinned, following the branch again" } ?? "resumed"))
        trigger(.resume)
    }

    /// Pins the app to `releaseID` (default: the release before the current one) and syncs it.
    /// The app stays there, whatever is pushed, until `resume()`.
    public func rollback(to releaseID: Int64?) async throws -> Release {
        let releases = try await env.store.releases(app: name, limit: 1000)
        let target: Release
        if let releaseID {
            guard let r = releases.first(where: { $0.id == releaseID }) else {
                throw ServerError("app \(name) has no release \(releaseID); see its history for release numbers")
            }
            target = r
        } else {
            let current = status.release ?? releases.first?.id
            let currentCommit = releases.first { $0.id == current }?.commit
            guard let r = releases.first(where: { ($0.id ?? 0) < (current ?? 0) && $0.commit != currentCommit }) else {
                throw ServerError("app \(name) has no release before the current one to roll back to")
            }
            target = r
        }
        var control = try await env.store.control(app: name)
        control.pinnedRelease = target.id
        try await env.store.setControl(control)
        status.pinnedRelease = target.id
        try await env.store.recordEvent(Event(app: name, kind: "rollback",
                                              message: "rolling back to release \(target.id ?? 0) (\(target.commit.prefix(12))); pinned until resume"))
        trigger(.rollback)
        return target
    }

    // MARK: one sync

    private func sync(_ triggers: Set<Trigger>, head: String?) async {
        let control = (try? await env.store.control(app: name)) ?? AppControl(app: name)
        status.suspended = control.suspended
        status.pinnedRelease = control.pinnedRelease
        if control.suspended {
            status.health = .suspended
            return
        }
        let trigger = triggers.sorted { $0.rawValue < $1.rawValue }.map(\.rawValue).joined(separator: ",")
        let started = Date()
        let clock = ContinuousClock.now
        status.syncing = true
        defer { status.syncing = false }
        var commit: String?
        let previousRevision = status.revision
        var run = SyncRun(app: name, trigger: trigger, startedAt: started, commit: nil, outcome: .failed)
        var healing = false
        do {
            var target: String
            // A rollback runs exactly the images its release ran, built ones included.
            var pinnedImages: [String: String] = [:]
            if let pinned = control.pinnedRelease {
                guard let release = try await env.store.release(id: pinned) else {
                    throw ServerError("app \(name) is pinned to release \(pinned), which is not in the state database; resume the app")
                }
                target = release.commit
                pinnedImages = release.images
            } else if let head {
                target = head
            } else {
                target = try await env.source.head().commit
            }
            // A container died while the head commit is known bad: heal with the last good release.
            if triggers == [.dockerEvent] || healPending, target == failedCommit, let good = status.revision {
                healing = true
                env.logger.info("\(name): self-heal with the last good commit \(good.prefix(12)); \(target.prefix(12)) failed before")
                target = good
                if let release = status.release, let r = try await env.store.release(id: release), r.commit == good {
                    pinnedImages = r.images
                }
            }
            if pinnedImages.isEmpty, let built = lastBuilt, built.commit == target { pinnedImages = built.images }
            commit = target
            status.targetRevision = target
            run.commit = target
            await env.snapshots?.begin(app: name, commit: target)
            let checkout = try await env.source.checkout(commit: target)
            guard let app = checkout.config.app(named: name) else {
                throw ServerError("app \(name) is not in the repo at \(target.prefix(12)); nothing was changed")
            }
            let result = try await env.deployer.deploy(app, checkout: checkout, pinnedImages: pinnedImages)
            if let build = result.build {
                env.metrics.recordBuild(app: name, build)
                lastBuilt = (target, build.images)
            }
            run.changes = result.changes
            if let report = result.report, !report.ok {
                let lines = report.failures.map { "\($0.action.kind.rawValue) \($0.action.target): \($0.error ?? "failed")" }
                throw ServerError("apply failed for app \(name) at \(target.prefix(12)): " + lines.joined(separator: "; ")
                                  + ". Failed replacements were rolled back; the previous containers keep running")
            }
            let release = try await env.store.recordRelease(Release(app: name, commit: target, images: result.images))
            run.outcome = result.changes > 0 ? .deployed : .unchanged
            run.releaseID = release.id
            status.revision = target
            status.release = release.id
            status.lastSuccessAt = Date()
            healPending = false
            // A heal restored the last good release, but the head is still broken: stay Degraded.
            if !healing {
                status.health = .synced
                status.lastError = nil
                status.consecutiveFailures = 0
                status.nextRetryAt = nil
                retryTimer?.cancel()
                retryTimer = nil
                failedCommit = nil
            }
        } catch {
            run.outcome = .failed
            run.error = "\(error)"
            // A failed heal leaves the head known bad; the retry heals again.
            if healing { healPending = true } else { failedCommit = commit ?? failedCommit }
            status.health = .degraded
            status.lastError = "\(error)"
            status.consecutiveFailures += 1
            let delay = min(env.maxBackoff, env.backoff * (1 << min(status.consecutiveFailures - 1, 16)))
            status.nextRetryAt = Date().addingTimeInterval(Double(delay.components.seconds))
            if !status.suspended { scheduleRetry(after: delay) }
            env.logger.error("\(name): sync failed: \(error)")
        }
        run.finishedAt = Date()
        status.lastSyncAt = run.finishedAt
        status.syncs += 1
        do {
            run = try await env.store.recordRun(run)
        } catch {
            env.logger.error("\(name): \(error)")
        }
        env.metrics.recordSync(app: name, outcome: run.outcome, duration: ContinuousClock.now - clock, drift: run.changes,
                               at: run.finishedAt.timeIntervalSince1970)
        env.metrics.setDegraded(app: name, run.outcome == .failed)
        await env.snapshots?.end(app: name)
        // Old snapshots only pile up when new commits arrive: an unchanged resync has nothing to clear.
        if run.outcome == .deployed || (run.outcome == .unchanged && commit != previousRevision) {
            await env.snapshots?.collect()
        }
        if run.outcome == .deployed {
            env.logger.info("\(name): deployed \(commit?.prefix(12) ?? "?") (\(run.changes) change\(run.changes == 1 ? "" : "s"))")
        }
        if run.outcome != .unchanged {
            await env.notifier.send(SyncNotification(app: name, outcome: run.outcome.rawValue, commit: commit, release: run.releaseID,
                                                     error: run.error, time: run.finishedAt, trigger: trigger))
        }
    }
}
