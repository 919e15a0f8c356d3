import Foundation
import GitSource
import Logging

/// A repo read at one commit through an immutable snapshot.
public struct RepoCheckout: Sendable {
    public var root: URL
    public var commit: String
    public var config: RepoConfig
}

/// Where the apps come from: a git remote mirrored under the state directory, read at a ref.
public struct RepoSource: Sendable {
    public let store: GitStore
    public let remote: GitRemote
    /// Branch, tag or commit; nil follows the remote's default branch.
    public let ref: String?
    let logger: Logger

    public init(store: GitStore, remote: GitRemote, ref: String?, logger: Logger) {
        self.store = store
        self.remote = remote
        self.ref = ref
        self.logger = logger
    }

    /// Fetches, then resolves the ref. `reference` is the full ref name followed (`refs/heads/main`).
    public func head() async throws -> (commit: String, reference: String?) {
        let fetched = try await store.fetch(remote)
        guard let wanted = ref ?? fetched.defaultBranch else {
            throw ServerError("\(remote) has no default branch; name one with --ref (BERTH_REF)")
        }
        let resolved = try await store.resolve(wanted, in: remote.url)
        return (resolved.commit, resolved.reference ?? (wanted.hasPrefix("refs/") ? wanted : nil))
    }

    /// The snapshot of `commit` and the repo's berth.yaml (or discovered apps) in it.
    public func checkout(commit: String) async throws -> RepoCheckout {
        let snapshot = try await store.snapshot(commit: commit, from: remote.url)
        return RepoCheckout(root: snapshot.directory, commit: commit,
                            config: try RepoConfig.load(snapshotDirectory: snapshot.directory))
    }
}
