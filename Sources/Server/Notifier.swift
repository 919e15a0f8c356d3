import Curl
import Foundation
import Logging

/// What the notify webhook receives after a sync that deployed or failed.
public struct SyncNotification: Codable, Sendable {
    public var app: String
    public var outcome: String
    public var commit: String?
    public var release: Int64?
    public var error: String?
    public var time: Date
    public var trigger: String

    public init(app: String, outcome: String, commit: String?, release: Int64?, error: String?, time: Date, trigger: String) {
        self.app = app
        self.outcome = outcome
        self.commit = commit
        self.release = release
        self.error = error
        self.time = time
        self.trigger = trigger
    }
}

/// Posts a JSON document to a generic webhook (Slack-compatible relays, ntfy, a CI hook…).
/// A failed notification is logged, never fatal.
public struct Notifier: Sendable {
    let url: String?
    let client: HTTPClient
    let logger: Logger

    public init(url: String?, logger: Logger) {
        self.url = url
        self.logger = logger
        var config = HTTPClient.Configuration()
        config.retries = 2
        self.client = HTTPClient(configuration: config, logger: logger)
    }

    /// Posts `note`; logs and swallows any failure.
    public func send(_ note: SyncNotification) async {
        guard let url else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        do {
            let body = try encoder.encode(note)
            let response = try await client.send(HTTPRequest(method: .post, url: url, headers: ["Content-Type": "application/json"],
                                                             body: .data(body), timeout: .seconds(10)))
            if !(200..<300).contains(response.status) {
                logger.warning("notify \(HTTPRequest(url: url).redactedTarget) answered \(response.status)")
            }
        } catch {
            logger.warning("notify failed: \(error)")
        }
    }
}
