import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Berth's HTTP client streams: a 1 GiB download keeps the process under 50 MB resident. The
/// download runs in its own process (`berth fetch`), so the figure is not polluted by the other
/// tests of this run; the process reports its own peak (VmHWM).
@Suite struct StreamingMemoryTests {
    /// Both client paths: the async body stream (`[]`) and the transfer-thread sink.
    @Test(arguments: [[String](), ["--sink"]])
    func oneGiBDownloadStaysUnder50MB(mode: [String]) async throws {
        let size = 1 << 30
        let server = try BigBodyServer(size: size)
        defer { server.stop() }
        let r = try await Shell.run(
            Host.berthBinary, ["fetch", "http://127.0.0.1:\(server.port)/big", "--output", "/dev/null", "--stats"] + mode)
        #expect(r.status == 0, "\(r.stderr)")
        struct Stats: Decodable { var status: Int; var bytes: Int; var seconds: Double; var peakResidentBytes: Int }
        let stats = try JSONDecoder().decode(Stats.self, from: Data(r.stdout.utf8))
        #expect(stats.status == 200)
        #expect(stats.bytes == size)
        #expect(stats.peakResidentBytes < 50 << 20, "peak resident \(stats.peakResidentBytes >> 20) MB")
    }

    @Test func bodyReachesTheFileIntact() async throws {
        let size = 3 << 20 + 12345
        let server = try BigBodyServer(size: size)
        defer { server.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-fetch"))
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try await Shell.run(Host.berthBinary, ["fetch", "http://127.0.0.1:\(server.port)/big", "-o", file.path])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: file)
        #expect(data.count == size)
        #expect(data == BigBodyServer.expected(size))
    }

    @Test func sinkPathWritesTheSameBytes() async throws {
        let size = 2 << 20 + 777
        let server = try BigBodyServer(size: size)
        defer { server.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-fetch-sink"))
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try await Shell.run(Host.berthBinary, ["fetch", "--sink", "http://127.0.0.1:\(server.port)/big", "-o", file.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: file) == BigBodyServer.expected(size))
    }

    @Test func errorStatusFailsWithoutWritingABody() async throws {
        let r = try await Shell.run(Host.berthBinary, ["fetch", "http://127.0.0.1:5000/v2/berth-test/nope/manifests/none", "-o", "/dev/null"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("answered 404"), "\(r.stderr)")
    }
}

/// Answers every request on 127.0.0.1 with `size` bytes (byte i = i % 253), one thread per
/// connection, without holding the body in memory.
private final class BigBodyServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let size: Int

    static func expected(_ size: Int) -> Data { Data((0..<size).map { UInt8($0 % 253) }) }

    init(size: Int) throws {
        self.size = size
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, listen(fd, 8) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.fd = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue } else { return } }
            Thread.detachNewThread { [self] in serve(c); close(c) }
        }
    }

    private func serve(_ c: Int32) {
        // Read the request head; its content does not matter.
        var head = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            head += buf[0..<n]
        }
        guard writeAll(c, Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n".utf8)) else { return }
        // 253 * 4096 bytes: a whole number of pattern periods, so every block continues the pattern.
        let block = (0..<(253 * 4096)).map { UInt8($0 % 253) }
        var left = size
        while left > 0 {
            let k = min(left, block.count)
            guard writeAll(c, block[0..<k]) else { return }
            left -= k
        }
    }

    private func writeAll(_ c: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        Array(bytes).withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = send(c, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { if errno == EINTR { continue } else { return false } }
                off += n
            }
            return true
        }
    }
}
