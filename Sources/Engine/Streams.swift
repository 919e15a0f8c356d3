import Curl
import FoundationEssentials
import Glibc

/// Newline-delimited JSON values from a streaming response (events, pull and build progress).
public struct JSONLines<Element: Decodable & Sendable>: AsyncSequence, Sendable {
    let body: HTTPBodyStream
    let describe: @Sendable (String) -> EngineError

    /// Aborts the underlying transfer.
    public func cancel() { body.cancel() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPBodyStream.AsyncIterator
        let describe: @Sendable (String) -> EngineError
        var lines = JSONLineDecoder<Element>()

        public mutating func next() async throws -> Element? {
            while true {
                do {
                    if let value = try lines.next() { return value }
                } catch {
                    throw describe(error.message)
                }
                if lines.isEnded { return nil }
                if let chunk = try await chunks.next() { lines.append(chunk) } else { lines.end() }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), describe: describe)
    }
}

/// The framing of the engine's JSON streams without the transfer: bytes go in as they arrive,
/// values come out once their line is complete. Blank lines are skipped and `\r` is ignored;
/// after `end()` an unterminated last line counts too. Separate from `JSONLines` so the
/// framing can be fuzzed without a connection.
package struct JSONLineDecoder<Element: Decodable> {
    /// A line that is not a JSON `Element`; `message` quotes the start of the line.
    package struct LineError: Error {
        package var message: String
    }

    private var buffer = Data()
    package private(set) var isEnded = false
    private let decoder = JSONDecoder()

    package init() {}

    /// Bytes not yet returned as a value (a line still incomplete).
    package var pendingByteCount: Int { buffer.count }

    package mutating func append(_ chunk: Data) { buffer.append(chunk) }

    /// No more bytes will come: what is left is the last line.
    package mutating func end() { isEnded = true }

    /// The next value, or nil when more bytes are needed (or, after `end()`, when all is read).
    package mutating func next() throws(LineError) -> Element? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[buffer.index(after: nl)...])
                if let value = try decodeLine(line) { return value }
                continue
            }
            guard isEnded, !buffer.isEmpty else { return nil }
            let line = buffer
            buffer = Data()
            return try decodeLine(line)
        }
    }

    private func decodeLine(_ line: Data) throws(LineError) -> Element? {
        let trimmed = line.filter { $0 != 0x0D }
        if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        do {
            return try decoder.decode(Element.self, from: trimmed)
        } catch {
            throw LineError(message: "cannot decode \(Element.self) from \(String(decoding: trimmed.prefix(300), as: UTF8.self)): \(error)")
        }
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
        var frames = LogFrameDemuxer()
        var ended = false

        public mutating func next() async throws -> LogFrame? {
            if !multiplexed {
                guard let chunk = try await chunks.next() else { return nil }
                return LogFrame(source: .stdout, data: chunk)
            }
            while true {
                if let frame = frames.next() { return frame }
                // A frame cut short by the end of the stream is dropped.
                if ended { return nil }
                if let chunk = try await chunks.next() { frames.append(chunk) } else { ended = true }
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

/// Splits the engine's multiplexed log/attach stream into frames: an 8-byte header (stream, 0,
/// 0, 0, big-endian payload length) then the payload. Bytes go in as they arrive, so a frame
/// may be split across any number of reads. Separate from `LogStream` so it can be fuzzed.
package struct LogFrameDemuxer: Sendable {
    private var buffer = Data()

    package init() {}

    /// Bytes received but not yet returned in a frame (a header or payload still incomplete).
    package var pendingByteCount: Int { buffer.count }

    package mutating func append(_ chunk: Data) { buffer.append(chunk) }

    /// The next complete frame, or nil until more bytes arrive. An unknown stream byte reads
    /// as stdout, as the engine only sends 0, 1 and 2.
    package mutating func next() -> LogFrame? {
        guard buffer.count >= 8 else { return nil }
        let b = buffer.startIndex
        let size = Int(buffer[b + 4]) << 24 | Int(buffer[b + 5]) << 16 | Int(buffer[b + 6]) << 8 | Int(buffer[b + 7])
        guard buffer.count >= 8 + size else { return nil }
        let source = LogSource(rawValue: buffer[b]) ?? .stdout
        let data = Data(buffer[(b + 8)..<(b + 8 + size)])
        buffer = Data(buffer[(b + 8 + size)...])
        return LogFrame(source: source, data: data)
    }
}
