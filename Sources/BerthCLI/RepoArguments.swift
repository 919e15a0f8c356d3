import ArgumentParser
import FoundationEssentials
import Glibc
import GitSource
import Logging

/// `--repo` and friends: where a GitOps repo comes from, shared by reconcile and build.
struct RepoArguments: ParsableArguments {
    @Option(help: ArgumentHelp("""
        GitOps repo: a git URL (file://, git://, http(s)://, ssh) or path, read at --ref through an \
        immutable snapshot; or a plain folder (no .git), read as it is.
        """, valueName: "url|path"))
    var repo: String?

    @Option(help: "Branch, tag or commit to deploy (default: the remote's default branch).")
    var ref: String?

    @Option(name: .customLong("app"), help: "Only this app of the repo; repeatable (default: all, in dependsOn order).")
    var apps: [String] = []

    @Option(help: ArgumentHelp("Where git mirrors and snapshots live (default: $BERTH_STATE_DIR, else /var/lib/berth as root, else ~/.local/state/berth).",
                               valueName: "dir"))
    var stateDir: String?

    /// A repo read at one commit (or a plain folder read as it is).
    struct Checkout {
        var root: URL
        var commit: String?
        var config: RepoConfig

        func selected(_ names: [String]) throws -> [AppConfig] {
            for name in names where config.app(named: name) == nil {
                throw CLIError("app \(name) is not in the repo; apps: \(config.apps.map(\.name).joined(separator: ", "))")
            }
            return names.isEmpty ? config.apps : config.apps.filter { names.contains($0.name) }
        }
    }

    var stateDirectory: URL { StateDirectory.resolve(stateDir) }

    func checkout(logger: Logger) async throws -> Checkout? {
        guard let repo else { return nil }
        var isDirectory = false
        let fm = FileManager.default
        if fm.fileExists(atPath: repo, isDirectory: &isDirectory), isDirectory,
           !fm.fileExists(atPath: repo + "/.git"), !fm.fileExists(atPath: repo + "/HEAD") {
            if ref != nil { throw CLIError("--ref needs a git repo, and \(repo) is a plain folder") }
            let root = URL(fileURLWithPath: repo).standardizedFileURL
            return Checkout(root: root, commit: nil, config: try RepoConfig.load(snapshotDirectory: root))
        }
        let store = try GitStore(stateDirectory: stateDirectory, logger: logger)
        let remote = GitRemote(url: repo, credentials: GitEnvironment.credentials())
        let fetched = try await store.fetch(remote)
        guard let wanted = ref ?? fetched.defaultBranch else {
            throw CLIError("\(repo) has no default branch; name one with --ref")
        }
        let resolved = try await store.resolve(wanted, in: repo)
        let snapshot = try await store.snapshot(commit: resolved.commit, from: repo)
        logger.info("repo \(repo) at \(wanted) = \(resolved.commit)")
        return Checkout(root: snapshot.directory, commit: resolved.commit,
                        config: try RepoConfig.load(snapshotDirectory: snapshot.directory))
    }
}

package enum GitEnvironment {
    /// Git credentials from the environment, so they never appear in a process list:
    /// BERTH_GIT_TOKEN, or BERTH_GIT_USER + BERTH_GIT_PASSWORD; BERTH_GIT_SSH_KEY (+ _PASSPHRASE);
    /// BERTH_GIT_KNOWN_HOSTS; BERTH_GIT_ALLOW_UNKNOWN_HOSTS=1.
    package static func credentials(_ env: [String: String] = ProcessInfo.processInfo.environment) -> GitCredentials {
        func value(_ key: String) -> String? { BerthEnvironment.value(key, in: env) }
        var http: GitCredentials.HTTP?
        if let token = value("BERTH_GIT_TOKEN") {
            http = .token(token)
        } else if let user = value("BERTH_GIT_USER"), let password = value("BERTH_GIT_PASSWORD") {
            http = .basic(username: user, password: password)
        }
        let ssh = value("BERTH_GIT_SSH_KEY").map {
            GitCredentials.SSHKey(privateKeyPath: $0, passphrase: value("BERTH_GIT_SSH_PASSPHRASE"))
        }
        return GitCredentials(http: http, ssh: ssh, knownHostsFile: value("BERTH_GIT_KNOWN_HOSTS"),
                              allowUnknownHosts: ["1", "true", "yes"].contains(value("BERTH_GIT_ALLOW_UNKNOWN_HOSTS") ?? ""))
    }
}
