import ArgumentParser
import Curl
import FoundationEssentials
import Platform
import Glibc
import Logging

/// `--server` and `--token`: how the client commands reach a running `berth serve`.
struct ServerArguments: ParsableArguments {
    @Option(help: ArgumentHelp("URL of a running berth serve [BERTH_SERVER] (default http://127.0.0.1:9420).", valueName: "url"))
    var server: String?

    @Option(help: "API bearer token [BERTH_API_TOKEN].")
    var token: String?

    var baseURL: String {
        var url = server ?? BerthEnvironment.value("BERTH_SERVER") ?? "http://127.0.0.1:9420"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// Sends one request; a non-2xx answer becomes an error carrying the server's message.
    func call(_ method: HTTPMethod, _ path: String) async throws -> Data {
        var headers = HTTPHeaders()
        if let token = token ?? BerthEnvironment.value("BERTH_API_TOKEN") { headers.add("Authorization", "Bearer \(token)") }
        let client = HTTPClient(configuration: .init(retries: 0), logger: Logger(label: "berth.client"))
        let url = baseURL + path
        let response: HTTPResponse
        do {
            response = try await client.send(HTTPRequest(method: method, url: url, headers: headers, timeout: .seconds(600)))
        } catch {
            throw CLIError("cannot reach berth serve at \(baseURL): \(error). Is it running? Set --server or BERTH_SERVER")
        }
        guard (200..<300).contains(response.status) else {
            struct Message: Decodable { var error: String? }
            let message = (try? JSONDecoder().decode(Message.self, from: response.body))?.error
                ?? String(decoding: response.body, as: UTF8.self)
            throw CLIError("\(method) \(url): HTTP \(response.status): \(message)")
        }
        return response.body
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}

/// The parts of the server's app status the client prints.
struct ClientAppStatus: Decodable {
    var name: String
    var health: String
    var syncing: Bool
    var revision: String?
    var release: Int64?
    var lastError: String?
    var lastSyncAt: Date?
    var pinnedRelease: Int64?
}

private func short(_ commit: String?) -> String { commit.map { String($0.prefix(12)) } ?? "-" }

private func line(_ s: ClientAppStatus) -> String {
    var text = "\(s.name)\t\(s.health)\(s.syncing ? " (syncing)" : "")\t\(short(s.revision))\trelease \(s.release.map(String.init) ?? "-")"
    if let pinned = s.pinnedRelease { text += "\tpinned to release \(pinned)" }
    if let error = s.lastError { text += "\n    error: \(error)" }
    return text
}

private func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        Terminal.printError(error.description)
        throw ExitCode.failure
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the apps of a running berth serve.")
    @OptionGroup var server: ServerArguments
    @Flag(help: "Print the server's JSON.") var json = false

    func run() async throws {
        try await runClient {
            let data = try await server.call(.get, "/api/v1/apps")
            if json { print(String(decoding: data, as: UTF8.self), terminator: ""); return }
            let apps = try ServerArguments.decoder.decode([ClientAppStatus].self, from: data)
            if apps.isEmpty { print("no apps") }
            for app in apps { print(line(app)) }
            if apps.contains(where: { $0.health == "Degraded" }) { throw ExitCode(3) }
        }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show an app's sync runs and releases.")
    @OptionGroup var server: ServerArguments
    @Flag(help: "Print the server's JSON.") var json = false
    @Option(help: "How many entries.") var limit = 20
    @Argument(help: "The app.") var app: String

    struct History: Decodable {
        struct Run: Decodable { var id: Int64?; var trigger: String; var finishedAt: Date; var commit: String?; var outcome: String
            var error: String?; var changes: Int; var releaseID: Int64? }
        struct Release: Decodable { var id: Int64?; var commit: String; var createdAt: Date; var images: [String: String] }
        var runs: [Run]
        var releases: [Release]
    }

    func run() async throws {
        try await runClient {
            let path = "/api/v1/apps/\(app.addingPercentEncoding(allowing: .urlPathAllowed))/history?limit=\(limit)"
            let data = try await server.call(.get, path)
            if json { print(String(decoding: data, as: UTF8.self), terminator: ""); return }
            let history = try ServerArguments.decoder.decode(History.self, from: data)
            let f = Date.ISO8601FormatStyle()
            print("RELEASES")
            for r in history.releases { print("  \(r.id ?? 0)\t\(short(r.commit))\t\(f.format(r.createdAt))") }
            print("RUNS")
            for r in history.runs {
                print("  \(f.format(r.finishedAt))\t\(r.trigger)\t\(short(r.commit))\t\(r.outcome)\t\(r.changes) changes"
                      + (r.releaseID.map { "\trelease \($0)" } ?? ""))
                if let e = r.error { print("    error: \(e)") }
            }
        }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Sync an app of a running berth serve now, and wait for it.")
    @OptionGroup var server: ServerArguments
    @Argument(help: "The app.") var app: String

    func run() async throws {
        try await runClient {
            let data = try await server.call(.post, "/api/v1/apps/\(app)/sync")
            let status = try ServerArguments.decoder.decode(ClientAppStatus.self, from: data)
            print(line(status))
            if status.health == "Degraded" { throw ExitCode.failure }
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Deploy an earlier release of an app and hold it there until `berth resume`.")
    @OptionGroup var server: ServerArguments
    @Option(help: "Release number (see `berth history`); default: the one before the current.") var to: Int64?
    @Argument(help: "The app.") var app: String

    func run() async throws {
        try await runClient {
            let data = try await server.call(.post, "/api/v1/apps/\(app)/rollback" + (to.map { "?to=\($0)" } ?? ""))
            struct Release: Decodable { var id: Int64?; var commit: String }
            let release = try ServerArguments.decoder.decode(Release.self, from: data)
            print("rolling \(app) back to release \(release.id ?? 0) (\(short(release.commit))); `berth resume \(app)` follows the branch again")
        }
    }
}

struct SuspendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "suspend", abstract: "Stop syncing an app of a running berth serve.")
    @OptionGroup var server: ServerArguments
    @Argument(help: "The app.") var app: String
    func run() async throws {
        try await runClient { _ = try await server.call(.post, "/api/v1/apps/\(app)/suspend"); print("\(app) suspended") }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume syncing an app (and drop a rollback pin).")
    @OptionGroup var server: ServerArguments
    @Argument(help: "The app.") var app: String
    func run() async throws {
        try await runClient { _ = try await server.call(.post, "/api/v1/apps/\(app)/resume"); print("\(app) resumed") }
    }
}
