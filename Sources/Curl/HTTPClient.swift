import FoundationEssentials
import Glibc
import Platform
import Logging

/// The HTTP client everything in Berth uses: libcurl underneath, each transfer on its own
/// thread so Swift's cooperative pool never blocks. Safe to share; make one and keep it.
///
/// Cancelling the calling task aborts the transfer (within about a second) and throws
/// `CurlError` with kind `.cancelled`.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        /// PEM bundle of CAs to trust instead of the system's.
        public var caFile: String?
        /// PEM client certificate and key (TLS client auth, e.g. `DOCKER_CERT_PATH`).
        public var clientCertificateFile: String?
        public var clientKeyFile: String?
        /// Skip TLS certificate and host name checks. Only for testing.
        public var insecure: Bool
        public var connectTimeout: Duration
        public var userAgent: String
        /// Extra attempts `send` makes for idempotent requests (GET, HEAD, PUT, DELETE) with a
        /// replayable body when the connection failed before an answer (refused, reset, empty
        /// reply). Never for POST/PATCH, streams, or once an HTTP status arrived.
        public var retries: Int
        /// Delay before the first retry; doubled for each further one.
        public var retryDelay: Duration

        public init(
            caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil,
            insecure: Bool = false, connectTimeout: Duration = .seconds(10), userAgent: String = "berth",
            retries: Int = 2, retryDelay: Duration = .milliseconds(200)
        ) {
            self.retries = retries
            self.retryDelay = retryDelay
            self.caFile = caFile
            self.clientCertificateFile = clientCertificateFile
            self.clientKeyFile = clientKeyFile
            self.insecure = insecure
            self.connectTimeout = connectTimeout
            self.userAgent = userAgent
        }
    }

    /// Largest body `send` collects unless told otherwise.
    public static let defaultMaxBodySize = 64 << 20

    public let configuration: Configuration
    let logger: Logger
    let pool = HandlePool()

    public init(configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends the request and collects the body, failing beyond `maxBodySize` bytes.
    public func send(_ request: HTTPRequest, maxBodySize: Int = HTTPClient.defaultMaxBodySize) async throws
        -> HTTPResponse
    {
        var attempt = 0
        while true {
            let collector = Collector(limit: maxBodySize, target: request.redactedTarget)
            do {
                let head = try await send(request, sink: { try collector.append($0) })
                return HTTPResponse(status: head.status, headers: head.headers, body: collector.take())
            } catch let error as CurlError where attempt < configuration.retries && Self.mayRetry(request, error) {
                let delay = configuration.retryDelay * (1 << attempt)
                attempt += 1
                logger.debug(
                    "retrying", metadata: ["request": "\(request.redactedTarget)", "error": "\(error.message)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Whether a failed request can be sent again without changing its effect.
    static func mayRetry(_ request: HTTPRequest, _ error: CurlError) -> Bool {
        switch request.method {
        case .get, .head, .put, .delete: break
        default: return false
        }
        if case .stream = request.body { return false }
        switch error.kind {
        case .couldNotConnect: return true
        // CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR: a kept-alive connection the
        // server had closed, or a server restarting.
        case .transport(let code): return code == 52 || code == 55 || code == 56
        default: return false
        }
    }

    /// Sends the request and hands each body chunk to `sink` as it arrives, on the transfer's
    /// own thread (keep it quick; it may block to slow the transfer down). Returns the status
    /// and headers once the body is complete. An error thrown by `sink` aborts the transfer
    /// and is rethrown.
    public func send(_ request: HTTPRequest, sink: @escaping @Sendable (Data) throws -> Void) async throws
        -> HTTPResponseHead
    {
        let transfer = Transfer(request: request, configuration: configuration, logger: logger, pool: pool)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponseHead, any Error>) in
                transfer.onData = { data in
                    try sink(data)
                    return true
                }
                transfer.onComplete = { c.resume(with: $0) }
                transfer.start()
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    /// Sends the request and returns as soon as the status and headers arrive; the body
    /// follows as an async sequence with back-pressure (a few MB buffered at most), so
    /// bodies of any size and endless streams (`/events`) work. Read the body to the end or
    /// drop it; dropping or cancelling aborts the transfer.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        let transfer = Transfer(request: request, configuration: configuration, logger: logger, pool: pool)
        let channel = ByteChannel(capacity: 4 << 20, onCancel: { transfer.cancel() })
        let target = request.redactedTarget
        let head: HTTPResponseHead = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponseHead, any Error>) in
                let once = Once(c)
                transfer.onHead = { once.resume(with: .success($0)) }
                transfer.onData = { channel.putBlocking($0) }
                transfer.onComplete = { result in
                    switch result {
                    case .success(let head):
                        once.resume(with: .success(head))
                        channel.finish()
                    case .failure(let error):
                        once.resume(with: .failure(error))
                        channel.finish(error: error)
                    }
                }
                transfer.start()
            }
        } onCancel: {
            transfer.cancel()
        }
        return HTTPStreamingResponse(
            status: head.status, headers: head.headers, body: HTTPBodyStream(channel: channel, target: target))
    }
}

/// Resumes a continuation at most once (the head may be known early or only at the end).
private final class Once: @unchecked Sendable {
    private let lock = Lock()
    private var continuation: CheckedContinuation<HTTPResponseHead, any Error>?
    init(_ c: CheckedContinuation<HTTPResponseHead, any Error>) { continuation = c }
    func resume(with result: Result<HTTPResponseHead, any Error>) {
        let c = lock.withLock {
            let c = continuation
            continuation = nil
            return c
        }
        c?.resume(with: result)
    }
}

/// Collects a body on the curl thread, bounded.
private final class Collector: @unchecked Sendable {
    private let lock = Lock()
    private var data = Data()
    let limit: Int
    let target: String
    init(limit: Int, target: String) {
        self.limit = limit
        self.target = target
    }
    func append(_ chunk: Data) throws {
        try lock.withLock {
            if data.count + chunk.count > limit {
                throw CurlError(kind: .responseTooLarge(limit: limit), target: target, message: "")
            }
            data.append(chunk)
        }
    }
    func take() -> Data { lock.withLock { data } }
}
