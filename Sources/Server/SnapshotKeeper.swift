import Foundation
import GitSource
import Logging
import Store

/// Garbage-collects git snapshots after successful syncs, keeping what a rollback or a sync in
/// flight needs: the commits of each app's last `keepReleases` releases, a pinned release's
/// commit, and every commit a sync is reading right now.
public actor SnapshotKeeper {
    let git: GitStore
    let store: Store
    /// Releases per app whose snapshots are kept (the ones `rollback` can go back to).
    public nonisolated let keepReleases: Int
    let logger: Logger
    var apps: Set<String> = []
    /// App → the commit its sync in flight reads.
    var inUse: [String: String] = [:]

    public init(git: GitStore, store: Store, keepReleases: Int = 10, logger: Logger) {
        self.git = git
        self.store = store
        self.keepReleases = max(1, keepReleases)
        self.logger = logger
    }

    /// A sync of `app` starts reading `commit`'s snapshot.
    public func begin(app: String, commit: String) {
        if app != Supervisor.snapshotUser { apps.insert(app) }
        inUse[app] = commit.lowercased()
    }

    /// The sync of `app` no longer reads its snapshot.
    public func end(app: String) {
        inUse[app] = nil
    }

    /// The commits whose snapshots must stay.
    public func keepSet() async throws -> Set<String> {
        var keep = Set(inUse.values)
        for app in apps {
            for release in try await store.releases(app: app, limit: keepReleases) { keep.insert(release.commit.lowercased()) }
            if let pinned = try await store.control(app: app).pinnedRelease, let release = try await store.release(id: pinned) {
                keep.insert(release.commit.lowercased())
            }
        }
        return keep
    }

    /// Removes every other snapshot; returns the removed commits. Failures are logged: a full
    /// disk is no reason to fail a sync that already succeeded.
    @discardableResult
    public func collect() async -> [String] {
        do {
            let keep = try await keepSet()
            let removed = try await git.removeSnapshots(keeping: keep, newest: 0)
            if !removed.isEmpty { logger.debug("removed \(removed.count) old snapshot(s)") }
            return removed
        } catch {
            logger.warning("snapshot clean-up failed: \(error)")
            return []
        }
    }
}
