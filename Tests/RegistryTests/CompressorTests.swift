import CZlib
import Foundation
import Testing

@testable import Registry

/// Deterministic test data: text-like runs (compressible) mixed with pseudo-random bytes.
func sampleData(_ size: Int, seed: UInt64 = 42) -> Data {
    var state = seed
    var out = Data(capacity: size)
    let words = ["layer ", "berth ", "registry ", "deflate ", "\n", "0123456789 "].map { Data($0.utf8) }
    while out.count < size {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        if state >> 60 < 10 {
            out.append(words[Int(state >> 33) % words.count])
        } else {
            for _ in 0..<16 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                out.append(UInt8(truncatingIfNeeded: state >> 56))
            }
        }
    }
    return out.prefix(size)
}

/// Inflates a gzip member with zlib (windowBits 31), independently of our compressor.
func gunzip(_ data: Data) throws -> Data {
    var s = z_stream()
    #expect(berth_inflateInit2(&s, 31) == Z_OK)
    defer { inflateEnd(&s) }
    var out = Data()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var status: Int32 = Z_OK
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        s.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
        s.avail_in = uInt(raw.count)
        while status != Z_STREAM_END {
            buffer.withUnsafeMutableBufferPointer { b in
                s.next_out = b.baseAddress
                s.avail_out = uInt(b.count)
                status = inflate(&s, Z_NO_FLUSH)
                out.append(b.baseAddress!, count: b.count - Int(s.avail_out))
            }
            if status != Z_OK && status != Z_STREAM_END {
                throw RegistryError(.compression, "inflate failed: \(status)")
            }
        }
        #expect(s.avail_in == 0, "bytes after the gzip member")
    }
    return out
}

func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("berth-registry-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

@Suite struct CompressorTests {
    @Test func roundTripsAndIsIndependentOfThreadCount() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Not a multiple of the block size, so the last block is short.
        let input = sampleData(3 << 20 + 12345)
        let inputPath = dir.appendingPathComponent("in.tar").path
        try input.write(to: URL(fileURLWithPath: inputPath))
        var outputs: [Data] = []
        var results: [CompressedLayer] = []
        for threads in [1, 2, 5] {
            let c = LayerCompressor(level: 1, blockSize: 256 << 10, threads: threads)
            let out = dir.appendingPathComponent("out-\(threads).gz").path
            results.append(try await c.compress(.file(path: inputPath, offset: 0, length: Int64(input.count)), to: out))
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
        #expect(Set(results).count == 1)
        let r = results[0]
        #expect(r.diffID == Digest.of(input))
        #expect(r.digest == Digest.of(outputs[0]))
        #expect(r.size == Int64(outputs[0].count))
        #expect(r.uncompressedSize == Int64(input.count))
        #expect(r.size < Int64(input.count))
        #expect(try gunzip(outputs[0]) == input)
        // Fixed header: magic, deflate, no flags, mtime 0, xfl 0, OS 255.
        #expect(Array(outputs[0].prefix(10)) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        // And the system's gzip agrees it is valid.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-t", dir.appendingPathComponent("out-1.gz").path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func compressesARegionOfAFile() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = sampleData(1 << 20, seed: 7)
        let path = dir.appendingPathComponent("archive").path
        try all.write(to: URL(fileURLWithPath: path))
        let region = all.subdata(in: 1000..<(1000 + 300_000))
        let out = dir.appendingPathComponent("r.gz").path
        let r = try await LayerCompressor(blockSize: 64 << 10, threads: 3).compress(
            .file(path: path, offset: 1000, length: 300_000), to: out)
        #expect(r.diffID == Digest.of(region))
        #expect(try gunzip(try Data(contentsOf: URL(fileURLWithPath: out))) == region)
        // Memory input gives the same bytes as the file region.
        let out2 = dir.appendingPathComponent("m.gz").path
        let r2 = try await LayerCompressor(blockSize: 64 << 10, threads: 1).compress(.data(region), to: out2)
        #expect(r2 == r)
    }

    @Test func emptyLayer() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("e.gz").path
        let r = try await LayerCompressor().compress(.data(Data()), to: out)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(try gunzip(bytes).isEmpty)
        #expect(r.uncompressedSize == 0)
        #expect(r.diffID == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func truncatedInputIsAnError() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("short").path
        try sampleData(1000).write(to: URL(fileURLWithPath: path))
        await #expect(throws: RegistryError.self) {
            try await LayerCompressor().compress(.file(path: path, offset: 0, length: 5000), to: dir.appendingPathComponent("x.gz").path)
        }
    }
}
