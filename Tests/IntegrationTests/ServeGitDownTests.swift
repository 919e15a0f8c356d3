import Foundation
import TestSupport
import Testing
import Engine

/// The git server is away long enough for the retry back-off to grow past the poll interval.
/// While it is down the app is Degraded naming the repo and the last good release runs; once it
/// answers again the next poll deploys what was pushed meanwhile, without sitting out the
/// back-off (the drill in ops/bench/reliability --only-git-down does the same for minutes).
@Suite(.serialized) struct ServeGitDownTests {
    @Test func gitServerBackIsPickedUpAtTheNextPoll() async throws {
        let (base, port) = try await Host.gitDaemon()

        let h = try ServeHarness()
        let app = TestNames.unique("gdapp")
        let container = "\(app)-svc-1"
        func compose(_ value: String) -> [String: String] { ServeHarness.sleepApp(app, value: value) }
        func running() async throws -> String? {
            try await Host.engine.inspectContainer(container).config?.env?.first { $0.hasPrefix("VALUE=") }
        }
        let bare = "\(base)/\(app).git"
        let first = try await h.commit(compose("one"))
        try await Shell.git(["init", "-q", "--bare", "-b", "main", bare], in: base)
        try await h.git("push", "-q", bare, "main")
        let proxy = try StreamFaultProxy(upstream: .tcp(port: port))
        defer { proxy.stop() }
        let url = "git://\(proxy.address)/\(app).git"

        try h.start(["--poll-interval", "1", "--retry-backoff", "8"], repoURL: url)
        defer { if h.process.isRunning { h.process.terminate() } }
        #expect(await h.waitFor(app, health: "Synced", revision: first), "first sync: \(h.serveLog)")
        let syncedAfter = try await h.status(app).syncs

        proxy.set { $0.down = true }
        let second = try await h.commit(compose("two"))
        try await h.git("push", "-q", bare, "main")
        // Two failed syncs: the next retry is 16 s away.
        let failedTwice = await ServeTests.eventually(.seconds(120)) {
            let s = try await h.status(app)
            return s.health == "Degraded" && !s.syncing && s.syncs >= syncedAfter + 2
        }
        #expect(failedTwice, "\(h.serveLog)")
        let down = try await h.status(app)
        #expect(down.lastError?.contains(url) == true, "the error names the repo: \(down.lastError ?? "")")
        #expect(try await running() == "VALUE=one", "the last good release keeps running")
        #expect(try await Host.containers(project: app).count == 1)

        proxy.set { $0.down = false }
        let back = ContinuousClock.now
        #expect(await h.waitFor(app, health: "Synced", revision: second, timeout: .seconds(60)), "recovery: \(h.serveLog)")
        let took = ContinuousClock.now - back
        // The old code sat out the back-off (16 s, of which at most a second or two had passed);
        // a poll that fetches recovers in a few seconds, up to 10 on a loaded machine.
        #expect(took < .seconds(13), "recovered \(took) after the server came back; the back-off had 16 s to go: \(h.serveLog)")
        #expect(try await running() == "VALUE=two")
        #expect(try await Host.containers(project: app).count == 1)

        #expect(await h.stop() == 0, "\(h.serveLog)")
        await Host.cleanUp(project: app)
        try? FileManager.default.removeItem(atPath: bare)
        await h.remove()
    }
}
