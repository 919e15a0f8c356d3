import Foundation
@testable import Server
import Store
import Testing

@Suite struct StatusPageTests {
    @Test func showsStateRevisionErrorAndHistoryEscaped() {
        var app = AppStatus(name: "web")
        app.health = .degraded
        app.revision = "0123456789abcdef0123"
        app.release = 4
        app.lastError = "compose.yaml:4:13: \"<script>\" is not a valid port"
        let run = SyncRun(app: "web", trigger: "webhook", startedAt: Date(), commit: "fedcba9876543210", outcome: .failed,
                          error: "a & b")
        let html = StatusPage.render(apps: [app], runs: ["web": [run]], repoError: nil)
        #expect(html.contains("<td class=\"Degraded\">Degraded</td>"))
        #expect(html.contains("<code>0123456789ab</code>"))
        #expect(html.contains("&quot;&lt;script&gt;&quot;"))
        #expect(!html.contains("<script>"))
        #expect(html.contains("a &amp; b"))
        #expect(html.contains("<code>fedcba987654</code>") && html.contains(">failed<"))
    }
}
