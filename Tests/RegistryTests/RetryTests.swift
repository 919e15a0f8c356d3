import Foundation
import Testing
import TestSupport

@testable import Registry

/// A loopback proxy in front of the real registry that injects faults: one request per
/// connection, each inspected by `rule`, which may answer instead of the registry or drop the
/// connection.
final class FaultProxy: @unchecked Sendable {
    enum Fault {
        case respond(status: Int, headers: [String: String], body: String)
        case drop
        /// Forward the request head and this many body bytes to the registry, then close
        /// both connections: an upload cut off midway.
        case cut(afterBodyBytes: Int)
    }
    let fd: Int32
    let port: Int
    let upstreamPort: UInt16
    private let lock = NSLock()
    private var _log: [String] = []
    private let rule: @Sendable (_ method: String, _ path: String, _ earlier: [String]) -> Fault?
    var log: [String] { lock.withLock { _log } }
    var address: String { "127.0.0.1:\(port)" }

    init(upstreamPort: UInt16, rule: @escaping @Sendable (String, String, [String]) -> Fault?) throws {
        self.upstreamPort = upstreamPort
        self.rule = rule
        guard let listener = LoopbackListener.open(backlog: 64) else { throw RegistryError(.io, "proxy: bind failed") }
        fd = listener.fd
        port = listener.port
        Thread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                Thread { [self] in
                    handle(c)
                    close(c)
                }.start()
            }
        }.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func readHead(_ c: Int32) -> (head: String, rest: Data)? {
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        let marker = Data("\r\n\r\n".utf8)
        while true {
            if let r = data.range(of: marker) {
                return (String(decoding: data[..<r.lowerBound], as: UTF8.self), Data(data[r.upperBound...]))
            }
            let n = read(c, &buf, buf.count)
            if n <= 0 { return nil }
            data.append(contentsOf: buf[0..<n])
        }
    }

    private func writeAll(_ c: Int32, _ d: Data) {
        d.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(c, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }

    private func handle(_ c: Int32) {
        guard let (head, rest) = readHead(c) else { return }
        var lines = head.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        let method = String(parts[0])
        let path = String(parts[1])
        let earlier = lock.withLock {
            let e = _log
            _log.append("\(method) \(path)")
            return e
        }
        let length = lines.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var body = rest
        var buf = [UInt8](repeating: 0, count: 65536)
        var cutAt = Int.max
        switch rule(method, path, earlier) {
        case .drop?: return
        case .cut(let n)?: cutAt = n
        case .respond(let status, let headers, let text)?:
            while body.count < length {
                let n = read(c, &buf, buf.count)
                if n <= 0 { break }
                body.append(contentsOf: buf[0..<n])
            }
            var r = "HTTP/1.1 \(status) Fault\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n"
            for (k, v) in headers { r += "\(k): \(v)\r\n" }
            writeAll(c, Data((r + "\r\n" + text).utf8))
            return
        case nil: break
        }
        // Forward to the registry, one request per connection.
        let u = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(u) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = upstreamPort.bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(u, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return }
        lines.removeAll { $0.lowercased().hasPrefix("connection:") }
        lines.append("Connection: close")
        writeAll(u, Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8))
        writeAll(u, body.prefix(cutAt))
        var sent = body.count
        if sent >= cutAt { return }
        while sent < length {
            let n = read(c, &buf, min(buf.count, length - sent, cutAt - sent))
            if n <= 0 { return }
            writeAll(u, Data(buf[0..<n]))
            sent += n
            if sent >= cutAt { return }
        }
        while true {
            let n = read(u, &buf, buf.count)
            if n <= 0 { break }
            writeAll(c, Data(buf[0..<n]))
        }
    }
}

@Suite(.serialized) struct RetryTests {
    let upstream = UInt16(testRegistry.split(separator: ":").last.flatMap { UInt16($0) } ?? 5000)

    func fastOptions() -> RegistryClient.Options {
        var o = RegistryClient.Options()
        o.initialBackoff = .milliseconds(20)
        return o
    }

    @Test func retriesServerErrorsRateLimitsAndDroppedConnections() async throws {
        let proxy = try FaultProxy(upstreamPort: upstream) { method, path, earlier in
            let seen = earlier.filter { $0.hasPrefix("\(method) ") && $0.contains(path.components(separatedBy: "?")[0]) }.count
            // The first blob PUT fails with 503: the blob's upload starts over.
            if method == "PUT" && path.contains("/blobs/uploads/") && !earlier.contains(where: { $0.hasPrefix("PUT") && $0.contains("/blobs/uploads/") }) {
                return .respond(status: 503, headers: ["Content-Type": "application/json"],
                    body: #"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#)
            }
            // The first manifest lookup is rate limited with Retry-After.
            if method == "HEAD" && path.contains("/manifests/") && seen == 0 {
                return .respond(status: 429, headers: ["Retry-After": "1"], body: "")
            }
            // The first blob existence check loses its connection.
            if method == "HEAD" && path.contains("/blobs/sha256:") && !earlier.contains(where: { $0.hasPrefix("HEAD") && $0.contains("/blobs/") }) {
                return .drop
            }
            return nil
        }
        defer { proxy.stop() }
        let ref = try uniqueRef("retry", registry: proxy.address)
        let client = makeClient(options: fastOptions())
        let r = try await client.push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        let start = ContinuousClock.now
        #expect(try await client.manifestDigest(of: ref) == r.digest)
        #expect(ContinuousClock.now - start >= .milliseconds(900), "Retry-After: 1 was not honoured")
        let log = proxy.log
        #expect(log.filter { $0.hasPrefix("POST") && $0.contains("/blobs/uploads/") }.count == 3, "\(log)")
        #expect(try skopeoInspect(try ImageReference.parse("\(testRegistry)/\(ref.repository):\(ref.tag ?? "")")).Digest == r.digest)
    }

    @Test func chunkedUploadRestartsAfterADroppedPatch() async throws {
        let proxy = try FaultProxy(upstreamPort: upstream) { method, _, earlier in
            if method == "PATCH" && earlier.filter({ $0.hasPrefix("PATCH") }).count == 1 { return .drop }
            return nil
        }
        defer { proxy.stop() }
        var o = fastOptions()
        o.monolithicLimit = 100_000
        o.chunkSize = 256 << 10
        let ref = try uniqueRef("retry-chunked", registry: proxy.address)
        let r = try await makeClient(options: o).push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        #expect(proxy.log.filter { $0.hasPrefix("PATCH") }.count >= 3)
    }

    @Test func uploadCutOffMidwayIsRetriedCleanly() async throws {
        // The first upload of the layer reaches the registry half sent, then both connections close.
        let proxy = try FaultProxy(upstreamPort: upstream) { method, path, earlier in
            if method == "PUT" && path.contains("/blobs/uploads/") && path.contains("digest=")
                && !earlier.contains(where: { $0.hasPrefix("PUT") && $0.contains("/blobs/uploads/") })
            {
                return .cut(afterBodyBytes: 100_000)
            }
            return nil
        }
        defer { proxy.stop() }
        let ref = try uniqueRef("retry-cut", registry: proxy.address)
        let r = try await makeClient(options: fastOptions()).push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        let log = proxy.log
        // Cut (the HTTP layer may replay the PUT into the dead session once), then a fresh upload
        // session for that blob: three sessions in all, with the config's.
        #expect(log.filter { $0.hasPrefix("PUT") && $0.contains("/blobs/uploads/") }.count >= 3, "\(log)")
        #expect(log.filter { $0.hasPrefix("POST") && $0.contains("/blobs/uploads/") }.count == 3, "\(log)")
        // The registry holds exactly the bytes: what it serves hashes to the digest.
        let direct = try ImageReference.parse("\(testRegistry)/\(ref.repository):\(ref.tag ?? "")")
        for layer in r.layers {
            let fetched = try run(["sh", "-c", "curl -fsS http://\(testRegistry)/v2/\(ref.repository)/blobs/\(layer.digest) | sha256sum"])
            #expect(fetched.status == 0)
            #expect("sha256:" + (fetched.out.split(separator: " ").first.map(String.init) ?? "") == layer.digest)
        }
        #expect(try skopeoInspect(direct).Digest == r.digest)
    }

    @Test func registryErrorsCarryCodeRequestAndAdvice() async throws {
        let proxy = try FaultProxy(upstreamPort: upstream) { method, path, _ in
            if method == "PUT" && path.contains("/manifests/") {
                return .respond(status: 400, headers: ["Content-Type": "application/json"],
                    body: #"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#)
            }
            return nil
        }
        defer { proxy.stop() }
        let ref = try uniqueRef("rejected", registry: proxy.address)
        do {
            _ = try await makeClient(options: fastOptions()).push(saveTarball: busyboxTarball, to: ref)
            Issue.record("push succeeded")
        } catch let e as RegistryError {
            #expect(e.kind == .registry(status: 400))
            #expect(e.codes == ["MANIFEST_INVALID"])
            #expect(e.description.contains("PUT http://\(proxy.address)/v2/\(ref.repository)/manifests/t1"))
            #expect(e.description.contains("MANIFEST_INVALID: manifest invalid"))
            #expect(e.description.contains("--format"))
        }
        // Not retried: a 400 is final.
        #expect(proxy.log.filter { $0.hasPrefix("PUT") && $0.contains("/manifests/") }.count == 1)
    }

    @Test func givesUpAfterMaxAttempts() async throws {
        let proxy = try FaultProxy(upstreamPort: upstream) { method, path, _ in
            method == "POST" && path.contains("/blobs/uploads/") ? .respond(status: 500, headers: [:], body: "") : nil
        }
        defer { proxy.stop() }
        var o = fastOptions()
        o.maxAttempts = 3
        let ref = try uniqueRef("giveup", registry: proxy.address)
        do {
            _ = try await makeClient(options: o).push(saveTarball: busyboxTarball, to: ref)
            Issue.record("push succeeded")
        } catch let e as RegistryError {
            #expect(e.kind == .registry(status: 500))
            #expect(e.description.contains("POST http://\(proxy.address)/v2/\(ref.repository)/blobs/uploads/"))
        }
        #expect(proxy.log.filter { $0.hasPrefix("POST") }.count >= 3)
    }
}
