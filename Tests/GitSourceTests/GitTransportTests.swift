import Foundation
import Testing
@testable import GitSource

/// Fetches over each network transport from the real servers ops/git-server runs on loopback.
@Suite struct GitTransportTests {
    /// Clones `url`, checks the snapshot of main, pushes a commit to the served repo and checks
    /// that the next fetch resolves and snapshots it.
    private func cloneThenFollowAPush(_ store: GitStore, _ remote: GitRemote, source: SourceRepo,
                                      published: PublishedRepo) async throws {
        let url = remote.url
        let first = try await store.fetch(remote)
        #expect(first.cloned)
        #expect(first.defaultBranch == "refs/heads/main")
        let main = try await store.resolve("main", in: url)
        #expect(main.commit == (try source.revParse("main")))
        #expect(try await store.resolve("feature", in: url).commit == (try source.revParse("feature")))
        let snapshot = try await store.snapshot(commit: main.commit, from: url)
        #expect(try readTree(snapshot.directory)["bin/run.sh"] == .file(Data("#!/bin/sh\necho run\n".utf8), executable: true))

        let new = try source.commit("apps/web/compose.yaml", "services:\n  web:\n    image: berth.local/busybox:1\n")
        try await published.push(from: source)
        let again = try await store.fetch(remote)
        #expect(!again.cloned)
        #expect(again.changedRefs == ["refs/heads/main"])
        let resolved = try await store.resolve("main", in: url)
        #expect(resolved.commit == new)
        #expect(resolved.reference == "refs/heads/main")
        let newSnapshot = try await store.snapshot(commit: new, from: url)
        #expect(!newSnapshot.reused)
        #expect(try String(contentsOf: newSnapshot.directory.appendingPathComponent("apps/web/compose.yaml"), encoding: .utf8)
                    .contains("busybox:1"))
    }

    private func mirrors(_ state: TempDir) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: state.path + "/git").filter { $0.hasSuffix(".git") && !$0.hasPrefix(".") }
    }

    // MARK: ssh

    @Test func sshWithPassphraseKeyAndKnownHost() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        try await cloneThenFollowAPush(store, GitRemote(url: published.sshURL, credentials: servers.sshCredentials),
                                       source: source, published: published)
    }

    @Test func sshUnknownHostIsRefusedUnlessExplicitlyAllowed() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        let emptyKnownHosts = state.url.appendingPathComponent("known_hosts").path
        try "".write(toFile: emptyKnownHosts, atomically: true, encoding: .utf8)
        var credentials = servers.sshCredentials
        credentials.knownHostsFile = emptyKnownHosts

        let unknown = await #expect(throws: GitSourceError.self) {
            try await store.fetch(GitRemote(url: published.sshURL, credentials: credentials))
        }
        #expect(unknown?.kind == .certificate)
        let text = unknown?.description ?? ""
        #expect(text.contains("SSH host 127.0.0.1 port \(servers.sshPort) is not in \(emptyKnownHosts)"))
        #expect(text.contains("ssh-ed25519 key is SHA256:"))
        #expect(text.contains("ssh-keyscan -p \(servers.sshPort) 127.0.0.1 >> \(emptyKnownHosts)"))
        #expect(text.contains("BERTH_GIT_ALLOW_UNKNOWN_HOSTS"))
        #expect(try mirrors(state).isEmpty)
        // The fingerprint in the message is the one ssh-keygen shows for the host key.
        let hostKeyLine = try String(contentsOfFile: servers.knownHosts, encoding: .utf8)
        let fingerprint = try await run(["sh", "-c", "ssh-keygen -l -f '\(servers.knownHosts)' | cut -d' ' -f2"])
        #expect(!hostKeyLine.isEmpty && text.contains(fingerprint))

        credentials.allowUnknownHosts = true
        let allowed = try await store.fetch(GitRemote(url: published.sshURL, credentials: credentials))
        #expect(allowed.cloned)
        #expect(try await store.resolve("main", in: published.sshURL).commit == (try source.revParse("main")))
        // Allowing unknown hosts does not write to known_hosts: each fetch decides again.
        #expect(try String(contentsOfFile: emptyKnownHosts, encoding: .utf8).isEmpty)
    }

    @Test func sshChangedHostKeyIsRefusedEvenWhenUnknownHostsAreAllowed() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        let otherKey = state.url.appendingPathComponent("other_host_key").path
        try await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey])
        let otherPublic = try String(contentsOfFile: otherKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let knownHosts = state.url.appendingPathComponent("known_hosts").path
        try "[127.0.0.1]:\(servers.sshPort) \(otherPublic)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        var credentials = servers.sshCredentials
        credentials.knownHostsFile = knownHosts
        credentials.allowUnknownHosts = true

        let changed = await #expect(throws: GitSourceError.self) {
            try await store.fetch(GitRemote(url: published.sshURL, credentials: credentials))
        }
        #expect(changed?.kind == .certificate)
        #expect(changed?.description.contains("SSH host key of 127.0.0.1 port \(servers.sshPort) differs from the one in \(knownHosts)") == true)
        #expect(try mirrors(state).isEmpty)
    }

    @Test func sshWrongKeyOrPassphraseIsAClearAuthenticationError() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        let url = published.sshURL

        let strangerKey = state.url.appendingPathComponent("stranger_ed25519").path
        try await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", strangerKey])
        var stranger = servers.sshCredentials
        stranger.ssh = .init(privateKeyPath: strangerKey)
        let refused = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url, credentials: stranger)) }
        #expect(refused?.kind == .authentication)
        #expect(refused?.description.contains("refused the SSH key \(strangerKey) for user berth-git") == true)
        #expect(refused?.description.contains("authorised on the server") == true)

        var badPassphrase = servers.sshCredentials
        badPassphrase.ssh?.passphrase = "not-the-passphrase"
        let locked = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url, credentials: badPassphrase)) }
        #expect(locked?.kind == .authentication)
        #expect(locked?.description.contains(servers.sshKey) == true)
        #expect(locked?.description.contains("passphrase") == true)
        #expect(locked?.description.contains("not-the-passphrase") == false)

        var noPassphrase = servers.sshCredentials
        noPassphrase.ssh?.passphrase = nil
        let needsOne = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url, credentials: noPassphrase)) }
        #expect(needsOne?.kind == .authentication)
        #expect(needsOne?.description.contains("passphrase") == true)

        var noKey = servers.sshCredentials
        noKey.ssh = nil
        let none = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url, credentials: noKey)) }
        #expect(none?.kind == .authentication)
        #expect(none?.description.contains("asks for an SSH key") == true)

        #expect(try mirrors(state).isEmpty)
    }

    // MARK: http(s)

    @Test func smartHTTPWithBasicAuth() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        let url = published.httpURL

        let none = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url)) }
        #expect(none?.kind == .authentication)
        #expect(none?.description.contains("\(url) asks for a user name and password") == true)

        let wrong = await #expect(throws: GitSourceError.self) {
            try await store.fetch(GitRemote(url: url, credentials: GitCredentials(http: .basic(username: servers.httpUser, password: "nope-wrong"))))
        }
        #expect(wrong?.kind == .authentication)
        #expect(wrong?.description.contains("\(url) refused the credentials (http user \(servers.httpUser))") == true)
        #expect(wrong?.description.contains("nope-wrong") == false)
        #expect(try mirrors(state).isEmpty)

        let right = GitCredentials(http: .basic(username: servers.httpUser, password: servers.httpPassword))
        try await cloneThenFollowAPush(store, GitRemote(url: url, credentials: right), source: source, published: published)

        // A token is sent as the password with the given user name.
        let tokenState = try TempDir()
        let tokenStore = try makeStore(tokenState)
        let viaToken = try await tokenStore.fetch(GitRemote(url: url, credentials: GitCredentials(
            http: .token(servers.httpPassword, username: servers.httpUser))))
        #expect(viaToken.cloned)
    }

    /// libgit2 keeps trusted CAs per process, so the untrusted fetch has to come first and no
    /// other test may set a CA file.
    @Test func httpsWithPrivateCA() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let url = published.httpsURL
        let credentials = GitCredentials(http: .basic(username: servers.httpUser, password: servers.httpPassword))

        let untrustedState = try TempDir()
        let untrusted = try makeStore(untrustedState)
        let error = await #expect(throws: GitSourceError.self) { try await untrusted.fetch(GitRemote(url: url, credentials: credentials)) }
        #expect(error?.kind == .certificate)
        #expect(error?.description.contains("the TLS certificate of localhost (\(url)) is not trusted") == true)
        #expect(error?.description.contains("BERTH_GIT_CA_FILE") == true)
        #expect(try mirrors(untrustedState).isEmpty)

        let state = try TempDir()
        let store = try makeStore(state, caFile: servers.caFile)
        try await cloneThenFollowAPush(store, GitRemote(url: url, credentials: credentials), source: source, published: published)
    }

    @Test func gitDaemonOfOpsServesPublishedRepos() async throws {
        let servers = try OpsGitServers.running()
        let source = try SourceRepo()
        let published = try await servers.publish(source)
        let state = try TempDir()
        let store = try makeStore(state)
        try await cloneThenFollowAPush(store, GitRemote(url: published.gitURL), source: source, published: published)
    }
}
