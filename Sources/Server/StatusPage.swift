import Foundation
import Store

/// The `/` page: one static HTML document, no scripts, readable in a terminal browser too.
enum StatusPage {
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        return ISO8601DateFormatter().string(from: date)
    }

    static func render(apps: [AppStatus], runs: [String: [SyncRun]], repoError: String?) -> String {
        var html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
        <title>Berth</title>
        <style>
        body{font:14px system-ui,sans-serif;margin:2em;color:#222}
        table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
        .Synced{color:#080}.Degraded{color:#b00}.Suspended{color:#a60}.Unknown{color:#666}
        code{font:12px ui-monospace,monospace}.t{white-space:nowrap}.err{color:#b00;white-space:pre-wrap}
        </style></head><body>
        <h1>Berth</h1>

        """
        if let repoError { html += "<p class=\"err\">Repo: \(escape(repoError))</p>\n" }
        if apps.isEmpty { html += "<p>No apps yet.</p>\n" }
        html += "<table id=\"apps\"><tr><th>App</th><th>State</th><th>Revision</th><th>Release</th><th>Last sync</th><th>Last error</th></tr>\n"
        for app in apps {
            let state = app.health.rawValue + (app.syncing ? " (syncing)" : "") + (app.pinnedRelease.map { " (pinned to release \($0))" } ?? "")
            html += "<tr><td><a href=\"#app-\(escape(app.name))\">\(escape(app.name))</a></td>"
            html += "<td class=\"\(app.health.rawValue)\">\(escape(state))</td>"
            html += "<td><code>\(escape(String((app.revision ?? "–").prefix(12))))</code></td>"
            html += "<td>\(app.release.map(String.init) ?? "–")</td><td class=\"t\">\(time(app.lastSyncAt))</td>"
            html += "<td class=\"err\">\(escape(app.lastError ?? ""))</td></tr>\n"
        }
        html += "</table>\n"
        for app in apps {
            html += "<h2 id=\"app-\(escape(app.name))\">\(escape(app.name))</h2>\n"
            html += "<table><tr><th>Finished</th><th>Trigger</th><th>Commit</th><th>Outcome</th><th>Changes</th><th>Error</th></tr>\n"
            for run in runs[app.name] ?? [] {
                html += "<tr><td class=\"t\">\(time(run.finishedAt))</td><td>\(escape(run.trigger))</td>"
                html += "<td><code>\(escape(String((run.commit ?? "–").prefix(12))))</code></td><td>\(run.outcome.rawValue)</td>"
                html += "<td>\(run.changes)</td><td class=\"err\">\(escape(run.error ?? ""))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "</body></html>\n"
        return html
    }
}
