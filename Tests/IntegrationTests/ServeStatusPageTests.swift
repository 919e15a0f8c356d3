import Foundation
import TestSupport
import Testing

/// The status page as a browser renders it: Debian's chromium, headless, dumps the DOM.
@Suite(.serialized) struct ServeStatusPageTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (ops/setup installs Debian's chromium); status page browser check skipped"))
    func headlessChromiumShowsAppsStateRevisionAndLastError() async throws {
        let browser = try #require(Self.chromium)
        let h = try ServeHarness()
        defer { if h.process.isRunning { h.process.terminate() } }
        let good = TestNames.unique("pgood"), bad = TestNames.unique("pbad")
        let service = Host.sleepCompose()
        let commit = try await h.commit([
            "berth.yaml": "apps:\n  \(good):\n    path: apps/good\n  \(bad):\n    path: apps/bad\n",
            "apps/good/compose.yaml": service,
            // Fails validation with a message that needs escaping in HTML.
            "apps/bad/compose.yaml": "services:\n  svc:\n    image: berth.local/busybox:latest\n    ports: [\"<x>\"]\n",
        ])
        try h.start(["--poll-interval", "300"])
        #expect(await h.waitFor(good, health: "Synced", revision: commit), "\(h.serveLog)")
        #expect(await h.waitFor(bad, health: "Degraded"), "\(h.serveLog)")
        let lastError = try #require(try await h.status(bad).lastError)

        let profile = h.base.appendingPathComponent("chromium-profile")
        let dump = try await Host.run(browser, [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=\(profile.path)", "--virtual-time-budget=3000", "--dump-dom", h.url + "/",
        ], environment: ["HOME": h.base.path])
        #expect(dump.status == 0, "chromium: \(dump.stderr)")
        let dom = dump.stdout
        #expect(dom.contains("<table id=\"apps\">"), "\(dom.prefix(2000))")
        // One row per app, with its state, revision and (for the broken one) the error text.
        let rows = dom.components(separatedBy: "<tr>")
        let goodRow = try #require(rows.first { $0.contains(">\(good)</a>") }, "\(dom.prefix(3000))")
        let badRow = try #require(rows.first { $0.contains(">\(bad)</a>") }, "\(dom.prefix(3000))")
        #expect(goodRow.contains("<td class=\"Synced\">Synced</td>"))
        #expect(goodRow.contains("<code>\(commit.prefix(12))</code>"))
        #expect(badRow.contains("<td class=\"Degraded\">Degraded</td>"))
        #expect(badRow.contains("&lt;x&gt;"), "the error is shown escaped: \(badRow)")
        let shown = lastError.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        #expect(badRow.contains(String(shown.prefix(60))), "last error in the row: \(badRow)")
        #expect(!dom.contains("<x>"), "no unescaped markup from the error")
        // The per-app history sections are there too.
        #expect(dom.contains("id=\"app-\(good)\"") && dom.contains("id=\"app-\(bad)\""))

        #expect(await h.stop() == 0, "\(h.serveLog)")
        await Host.cleanUp(project: good)
        await Host.cleanUp(project: bad)
        await h.remove()
    }
}
