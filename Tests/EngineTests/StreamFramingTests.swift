import Foundation
import Testing

@testable import Engine

/// The framing of the engine's progress streams and multiplexed logs, fed the way a transfer
/// delivers bytes: in reads that cut lines and frames anywhere.
@Suite struct StreamFramingTests {
    static func frame(_ source: UInt8, _ text: String) -> Data {
        let payload = Data(text.utf8)
        let n = UInt32(payload.count)
        return Data([source, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]) + payload
    }

    @Test func demuxerReassemblesAFrameSplitAcrossReads() {
        let stream = Self.frame(1, "starting\n") + Self.frame(2, "warning: no TLS\n") + Self.frame(1, "") + Self.frame(7, "odd\n")
        for cut in 1..<stream.count {
            var demuxer = LogFrameDemuxer()
            var frames: [LogFrame] = []
            for part in [stream.prefix(cut), stream.dropFirst(cut)] {
                demuxer.append(Data(part))
                while let f = demuxer.next() { frames.append(f) }
            }
            #expect(frames.map(\.source) == [.stdout, .stderr, .stdout, .stdout], "cut at \(cut)")
            #expect(frames.map(\.text) == ["starting\n", "warning: no TLS\n", "", "odd\n"], "cut at \(cut)")
            #expect(demuxer.pendingByteCount == 0)
        }
    }

    @Test func demuxerWaitsForAnIncompleteFrame() {
        var demuxer = LogFrameDemuxer()
        demuxer.append(Self.frame(2, "a long stderr line").prefix(20))
        #expect(demuxer.next() == nil)
        #expect(demuxer.pendingByteCount == 20)
        // A header announcing 4 GiB holds nothing back and allocates nothing.
        var huge = LogFrameDemuxer()
        huge.append(Data([1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x41]))
        #expect(huge.next() == nil)
    }

    @Test func jsonLinesSplitAnywhereDecodeTheSame() throws {
        let stream = Data("""
            {"status":"Pulling from acme/web","id":"latest"}\r
            \r
            {"status":"Downloading","progressDetail":{"current":1,"total":2},"id":"a1"}
            {"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}
            """.utf8)
        for cut in 0...stream.count {
            var lines = JSONLineDecoder<JSONMessage>()
            var messages: [JSONMessage] = []
            for part in [stream.prefix(cut), stream.dropFirst(cut)] {
                lines.append(Data(part))
                while let m = try lines.next() { messages.append(m) }
            }
            lines.end()
            while let m = try lines.next() { messages.append(m) }
            #expect(messages.map(\.status) == ["Pulling from acme/web", "Downloading", nil], "cut at \(cut)")
            #expect(messages.last?.failure == "no space left on device")
            #expect(lines.pendingByteCount == 0)
        }
    }

    @Test func jsonLinesNameTheBadLine() {
        var lines = JSONLineDecoder<JSONMessage>()
        lines.append(Data("{\"status\":\"ok\"}\nnot json\n{\"status\":\"after\"}\n".utf8))
        #expect(throws: Never.self) { try lines.next() }
        do {
            _ = try lines.next()
            Issue.record("a line that is not JSON was accepted")
        } catch {
            #expect(error.message.hasPrefix("cannot decode JSONMessage from not json"))
        }
        // The stream goes on after a bad line; the consumer decides to stop.
        #expect((try? lines.next())??.status == "after")
    }

    @Test func lastLineWithoutNewlineCountsOnlyAtTheEnd() throws {
        var lines = JSONLineDecoder<JSONMessage>()
        lines.append(Data(#"{"status":"done"}"#.utf8))
        #expect(try lines.next() == nil)
        #expect(!lines.isEnded)
        lines.end()
        #expect(try lines.next()?.status == "done")
        #expect(try lines.next() == nil)
    }
}
