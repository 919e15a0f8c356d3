import Foundation
import Logging

/// Keeps everything logged through its `logger`, for tests that assert on warnings, on what a
/// log must never contain (secrets), or on how often something happened.
public final class CapturedLog: @unchecked Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    public init() {}

    /// A logger at trace level that records into this log.
    public func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    public var entries: [Entry] { lock.withLock { stored } }
    /// Messages at warning level and above.
    public var warnings: [String] { entries.filter { $0.level >= .warning }.map(\.message) }
    /// Every entry as one line, level, message and metadata: what a log file would show.
    public var text: String { entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n") }
    /// How many entries have exactly this message.
    public func count(_ message: String) -> Int { entries.filter { $0.message == message }.count }

    fileprivate func append(_ entry: Entry) { lock.withLock { stored.append(entry) } }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(Entry(level: event.level, message: event.message.description,
                             metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
