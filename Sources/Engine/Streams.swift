import Curl
import Foundation

/// Newline-delimited JSON values from a streaming response (events, pull and build progress).
public struct JSONLines<Element: Decodable & Sendable>: AsyncSequence, Sendable {
    let body: HTTPBodyStream
    let describe: @Sendable (String) -> EngineError

    /// Aborts the underlying transfer.
    public func cancel() { body.cancel() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPBodyStream.AsyncIterator
        let describe: @Sendable (String) -> EngineError
        var buffer = Data()
        var ended = false
        let decoder = JSONDecoder()

        public mutating func next() async throws -> Element? {
            while true {
                if let nl = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[buffer.startIndex..<nl]
                    buffer = Data(buffer[buffer.index(after: nl)...])
                    if let value = try decodeLine(line) { return value }
                    continue
                }
                if ended {
                    if buffer.isEmpty { return nil }
                    let line = buffer
                    buffer = Data()
                    return try decodeLine(line)
                }
                if let chunk = try await chunks.next() { buffer.append(chunk) } else { ended = true }
            }
        }

        private func decodeLine(_ line: Data) throws -> Element? {
            let trimmed = line.filter { $0 != 0x0D }
            if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
            do {
                return try decoder.decode(Element.self, from: trimmed)
            } catch {
                throw describe("cannot decode \(Element.self) from \(String(decoding: trimmed.prefix(300), as: UTF8.self)): \(error)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), describe: describe)
    }
}

/// Which output a log frame came from.
public enum LogSource: UInt8, Sendable {
    case stdin = 0, stdout = 1, stderr = 2
}

public struct LogFrame: Sendable, Hashable {
    public var source: LogSource
    public var data: Data
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// Container output. Without a TTY the engine multiplexes stdout and stderr in frames with an
/// 8-byte header (stream, 0, 0, 0, big-endian length); with a TTY the bytes are raw stdout.
public struct LogStream: AsyncSequence, Sendable {
    let body: HTTPBodyStream
    let multiplexed: Bool

    public func cancel() { body.cancel() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPBodyStream.AsyncIterator
        let multiplexed: Bool
        var buffer = Data()
        var ended = false

        public mutating func next() async throws -> LogFrame? {
            if !multiplexed {
                guard let chunk = try await chunks.next() else { return nil }
                return LogFrame(source: .stdout, data: chunk)
            }
            while true {
                if buffer.count >= 8 {
                    let b = buffer.startIndex
                    let size = Int(buffer[b + 4]) << 24 | Int(buffer[b + 5]) << 16 | Int(buffer[b + 6]) << 8 | Int(buffer[b + 7])
                    if buffer.count >= 8 + size {
                        let source = LogSource(rawValue: buffer[b]) ?? .stdout
                        let data = Data(buffer[(b + 8)..<(b + 8 + size)])
                        buffer = Data(buffer[(b + 8 + size)...])
                        return LogFrame(source: source, data: data)
                    }
                }
                if ended { return nil }
                if let chunk = try await chunks.next() { buffer.append(chunk) } else { ended = true }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), multiplexed: multiplexed)
    }

    /// Reads everything, split by source.
    public func collect() async throws -> (stdout: String, stderr: String) {
        var out = Data()
        var err = Data()
        for try await frame in self {
            if frame.source == .stderr { err.append(frame.data) } else { out.append(frame.data) }
        }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
