import Foundation
import Logging
import Testing

@testable import Curl

private let logger = Logger(label: "curl-tests")
private let server: LoopbackServer = {
    do { return try LoopbackServer() } catch { fatalError("loopback server: \(error)") }
}()
private let client = HTTPClient(logger: logger)

private func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let f = s.split(separator: " ")
    return f.count > 1 ? (Int(f[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

private func generated(_ n: Int, chunk: Int) -> AsyncThrowingStream<Data, any Error> {
    let sent = Counter()
    return AsyncThrowingStream(unfolding: {
        guard sent.value < n else { return nil }
        let k = min(chunk, n - sent.value)
        sent.add(k)
        return Data(repeating: 7, count: k)
    })
}

@Suite struct HTTPClientTests {
    @Test func getCollectsBodyAndHeaders() async throws {
        let r = try await client.send(HTTPRequest(url: "\(server.base)/hello"))
        #expect(r.status == 200)
        #expect(r.text == "hello")
        #expect(r.headers["content-length"] == "5")
        #expect(r.headers.values(for: "X-MULTI") == ["a", "b"])
    }

    /// Header names and values lose the spaces and tabs around them, nothing else.
    @Test func headerBlanksAreTrimmed() {
        #expect(Transfer.trimmingBlanks(" \tContent-Type \t".utf8[...]) == "Content-Type")
        #expect(Transfer.trimmingBlanks("a b".utf8[...]) == "a b")
        #expect(Transfer.trimmingBlanks("  ".utf8[...]) == "")
        #expect(Transfer.trimmingBlanks("\u{A0}é\u{A0}".utf8[...]) == "\u{A0}é\u{A0}")
    }

    @Test func requestHeadersAreSent() async throws {
        var req = HTTPRequest(url: "\(server.base)/headers")
        req.headers.add("X-Berth", "yes")
        req.headers.add("Authorization", "Bearer secret")
        let r = try await client.send(req)
        #expect(r.text.contains("X-Berth: yes"))
        #expect(r.text.contains("Authorization: Bearer secret"))
        #expect(!r.text.lowercased().contains("expect:"))
        // Header values never show in descriptions (they may be secrets).
        #expect(!req.headers.description.contains("secret"))
    }

    @Test func errorStatusIsAResponse() async throws {
        let r = try await client.send(HTTPRequest(url: "\(server.base)/status/404"))
        #expect(r.status == 404)
        #expect(!r.isSuccess)
        #expect(r.text == "status 404")
    }

    @Test func redirectsFollowedOnlyWhenAsked() async throws {
        let plain = try await client.send(HTTPRequest(url: "\(server.base)/redirect"))
        #expect(plain.status == 302)
        let followed = try await client.send(HTTPRequest(url: "\(server.base)/redirect", followRedirects: true))
        #expect(followed.status == 200)
        #expect(followed.text == "hello")
    }

    @Test func uploadsData() async throws {
        let body = Data((0..<100_000).map { UInt8($0 % 256) })
        let expectedSum = body.reduce(UInt64(0)) { $0 + UInt64($1) }
        let r = try await client.send(HTTPRequest(method: .post, url: "\(server.base)/count", body: .data(body)))
        #expect(r.text == "100000 \(expectedSum)")
    }

    @Test func postWithoutBodySendsZeroLength() async throws {
        let r = try await client.send(HTTPRequest(method: .post, url: "\(server.base)/count"))
        #expect(r.text == "0 0")
    }

    @Test func uploadsFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-curl-\(UUID()).bin")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data(repeating: 3, count: 3_000_000).write(to: path)
        let r = try await client.send(HTTPRequest(method: .put, url: "\(server.base)/count", body: .file(path: path.path)))
        #expect(r.text == "3000000 9000000")
    }

    @Test func missingBodyFileIsAClearError() async throws {
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(method: .put, url: "\(server.base)/count", body: .file(path: "/nonexistent/x")))
        }
        #expect(error?.kind == .unreadableBodyFile(path: "/nonexistent/x"))
        #expect(error?.description.contains("/nonexistent/x") == true)
    }

    @Test func uploadsStreamChunkedAndWithLength() async throws {
        let n = 8_000_000
        let chunked = try await client.send(
            HTTPRequest(method: .post, url: "\(server.base)/count", body: .stream(generated(n, chunk: 65_536), length: nil)))
        #expect(chunked.text == "\(n) \(n * 7)")
        let sized = try await client.send(
            HTTPRequest(method: .put, url: "\(server.base)/count", body: .stream(generated(n, chunk: 1_000_003), length: Int64(n))))
        #expect(sized.text == "\(n) \(n * 7)")
    }

    struct ProducerFailed: Error {}

    @Test func producerErrorFailsTheRequest() async throws {
        let calls = Counter()
        let stream = AsyncThrowingStream<Data, any Error>(unfolding: {
            calls.add(1)
            if calls.value == 1 {
                return Data(repeating: 1, count: 1000)
            }
            throw ProducerFailed()
        })
        await #expect(throws: ProducerFailed.self) {
            try await client.send(HTTPRequest(method: .post, url: "\(server.base)/count", body: .stream(stream, length: nil)))
        }
    }

    @Test func largeStreamedDownloadDoesNotGrowMemory() async throws {
        let n = 200 << 20
        let before = residentBytes()
        let r = try await client.stream(HTTPRequest(url: "\(server.base)/big/\(n)"))
        #expect(r.status == 200)
        var count = 0
        var peak = before
        var firstBytesOK = false
        for try await chunk in r.body {
            if count == 0 { firstBytesOK = chunk.prefix(3) == Data([0, 1, 2]) }
            count += chunk.count
            if count % (16 << 20) < chunk.count { peak = max(peak, residentBytes()) }
        }
        #expect(count == n)
        #expect(firstBytesOK)
        #expect(peak - before < 100 << 20, "resident memory grew by \(peak - before) bytes")
    }

    @Test func sinkReceivesEverything() async throws {
        let total = Counter()
        let head = try await client.send(HTTPRequest(url: "\(server.base)/big/5000000")) { total.add($0.count) }
        #expect(head.status == 200)
        #expect(total.value == 5_000_000)
    }

    @Test func collectIsBounded() async throws {
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "\(server.base)/big/1000000"), maxBodySize: 1000)
        }
        #expect(error?.kind == .responseTooLarge(limit: 1000))
    }

    @Test func totalTimeout() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "\(server.base)/hang", timeout: .milliseconds(500)))
        }
        #expect(error?.kind == .timedOut)
        #expect(error?.description.contains("/hang") == true)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func cancellationAbortsTransfer() async throws {
        let start = ContinuousClock.now
        let task = Task { try await client.send(HTTPRequest(url: "\(server.base)/hang")) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = await task.result
        guard case .failure(let error) = result else {
            Issue.record("expected cancellation")
            return
        }
        #expect((error as? CurlError)?.kind == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    @Test func streamHeadArrivesBeforeBodyEndsAndCancelClosesConnection() async throws {
        let before = try await client.send(HTTPRequest(url: "\(server.base)/closed"))
        let r = try await client.stream(HTTPRequest(url: "\(server.base)/stall"))
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "text/plain")
        let reader = Task { () -> Int in
            var chunks = 0
            for try await _ in r.body { chunks += 1 }
            return chunks
        }
        try await Task.sleep(for: .milliseconds(300))
        reader.cancel()
        let result = await reader.result
        #expect(throws: (any Error).self) { try result.get() }
        // The server sees the connection go within a couple of seconds.
        let baseline = Int(before.text) ?? 0
        var closed = false
        for _ in 0..<40 {
            if let n = Int(try await client.send(HTTPRequest(url: "\(server.base)/closed")).text), n > baseline {
                closed = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(closed)
    }

    @Test func concurrentTransfersDoNotBlockTheCooperativePool() async throws {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<12 {
                group.addTask { try await client.send(HTTPRequest(url: "\(server.base)/sleep/700")).text }
            }
            for try await text in group { #expect(text == "slept") }
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func connectionRefusedSaysWhatToDo() async throws {
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "http://user:hunter2@127.0.0.1:1/x"))
        }
        #expect(error?.kind == .couldNotConnect)
        let text = error?.description ?? ""
        #expect(text.contains("GET http://***@127.0.0.1:1/x"))
        #expect(!text.contains("hunter2"))
        #expect(text.contains("running"))
    }

    @Test func tlsAgainstPlainServerIsATLSError() async throws {
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "https://127.0.0.1:5000/v2/", timeout: .seconds(5)))
        }
        #expect(error?.kind == .tls)
        #expect(error?.description.contains("caFile") == true)
    }

    @Test func unixSocketToDockerEngine() async throws {
        let r = try await client.send(
            HTTPRequest(url: "http://localhost/_ping", unixSocketPath: "/var/run/docker.sock", timeout: .seconds(10)))
        #expect(r.status == 200)
        #expect(r.text == "OK")
        #expect(r.headers["api-version"] != nil)
    }

    @Test func missingUnixSocket() async throws {
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "http://localhost/_ping", unixSocketPath: "/nonexistent.sock"))
        }
        #expect(error?.kind == .couldNotConnect)
        #expect(error?.description.contains("/nonexistent.sock") == true)
    }

    @Test func registryOverHTTP() async throws {
        let r = try await client.send(HTTPRequest(url: "http://127.0.0.1:5000/v2/", timeout: .seconds(10)))
        #expect(r.status == 200)
        #expect(r.headers["Docker-Distribution-API-Version"] == "registry/2.0")
    }

    @Test func idempotentRequestsAreRetriedAfterAnEmptyReply() async throws {
        let key = UUID().uuidString
        let r = try await client.send(HTTPRequest(url: "\(server.base)/flaky/\(key)"))
        #expect(r.text == "ok")

        let postKey = UUID().uuidString
        let error = await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(method: .post, url: "\(server.base)/flaky/\(postKey)", body: .data(Data("x".utf8))))
        }
        // Not sent again: a second attempt would have been answered "ok". The server closes with
        // the POST body unread, so the kernel may reset the connection before curl reads the
        // close: an empty reply (52) or a receive error (56), both of them "no answer".
        #expect(error?.kind == .transport(code: 52) || error?.kind == .transport(code: 56), "\(String(describing: error))")

        let noRetry = HTTPClient(configuration: .init(retries: 0), logger: logger)
        await #expect(throws: CurlError.self) {
            try await noRetry.send(HTTPRequest(url: "\(server.base)/flaky/\(UUID().uuidString)"))
        }
    }

    @Test func headRequest() async throws {
        let r = try await client.send(HTTPRequest(method: .head, url: "\(server.base)/hello"))
        #expect(r.status == 200)
        #expect(r.body.isEmpty)
        #expect(r.headers["content-length"] == "5")
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}
