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

/// Posts a JSON document to a generic webhook (Slack-compatible relays, ntfy, a CI hook…) after
/// each deploy and each failure. A failed notification is logged, never fatal.
///
/// The receiver is outside the host's trust: every string sent is scrubbed of the configured
/// secrets (webhook secret, API token, git and registry passwords) and of URL credentials.
public struct Notifier: Sendable {
    let url: String?
    let client: HTTPClient
    let secrets: [String]
    let logger: Logger

    /// - Parameter secrets: values that must never leave the host; short ones (< 4 characters)
    ///   are ignored, since replacing them would mangle ordinary text.
    public init(url: String?, secrets: [String] = [], logger: Logger) {
        self.url = url
        self.logger = logger
        // Longest first, so a secret containing another is replaced whole.
        self.secrets = Array(Set(secrets.filter { $0.count >= 4 })).sorted { $0.count > $1.count }
        var config = HTTPClient.Configuration()
        config.retries = 2
        self.client = HTTPClient(configuration: config, logger: logger)
    }

    /// `text` without the secrets and without `user:password@` in URLs.
    public func redact(_ text: String) -> String {
        var out = text
        for secret in secrets { out = out.replacingOccurrences(of: secret, with: "***") }
        return Self.redactURLCredentials(out)
    }

    /// `scheme://user:password@host` → `scheme://***@host`, anywhere in the text.
    static func redactURLCredentials(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authority = rest.prefix { !"/ \t\n\"'<>".contains($0) }
            if let at = authority.lastIndex(of: "@") {
                out += "***"
                rest = rest[at...]
            }
        }
        return out + rest
    }

    /// The note as it leaves the host.
    public func redacted(_ note: SyncNotification) -> SyncNotification {
        var note = note
        note.app = redact(note.app)
        note.error = note.error.map(redact)
        note.trigger = redact(note.trigger)
        return note
    }

    /// Posts `note`; logs and swallows any failure.
    public func send(_ note: SyncNotification) async {
        guard let url else { return }
        let note = redacted(note)
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
