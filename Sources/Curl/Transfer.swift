import CCurl
import FoundationEssentials
import Glibc
import Platform
import Logging

/// libcurl's global state, set up once before the first handle is made (after
/// `CurlLibrary.load()` succeeded: only then may libcurl be called).
private let curlGlobalInit: Bool = berth_curl_global_init() == 0

/// An easy handle and the error buffer libcurl writes into.
final class EasyHandle {
    let raw: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        _ = curlGlobalInit
        guard let h = curl_easy_init() else { return nil }
        raw = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }
}

/// Idle easy handles. A reused handle keeps its connection cache, so requests to the same
/// server (registry over TLS, the engine socket) reuse connections.
final class HandlePool: @unchecked Sendable {
    private let lock = Lock()
    private var idle: [EasyHandle] = []
    private let maxIdle = 8

    func acquire() -> EasyHandle? {
        if let h = lock.withLock({ idle.popLast() }) { return h }
        return EasyHandle()
    }

    func release(_ h: EasyHandle) {
        curl_easy_reset(h.raw)
        lock.withLock {
            if idle.count < maxIdle { idle.append(h) }
        }
    }
}

/// Where a request body comes from, read on the curl thread.
private protocol BodySource: AnyObject {
    var length: Int64? { get }
    /// Copies up to `max` bytes into `buffer`; 0 at the end.
    func read(into buffer: UnsafeMutableRawPointer, max: Int) throws -> Int
    func close()
}

private final class DataSource: BodySource {
    let data: Data
    var offset = 0
    init(_ data: Data) { self.data = data }
    var length: Int64? { Int64(data.count) }
    func read(into buffer: UnsafeMutableRawPointer, max: Int) throws -> Int {
        let n = min(max, data.count - offset)
        guard n > 0 else { return 0 }
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress { buffer.copyMemory(from: base + offset, byteCount: n) }
        }
        offset += n
        return n
    }
    func close() {}
}

private final class FileSource: BodySource {
    let fd: Int32
    let length: Int64?
    let path: String
    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw POSIXError.current(path) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = POSIXError.current(path)
            Glibc.close(fd)
            throw e
        }
        length = Int64(st.st_size)
    }
    func read(into buffer: UnsafeMutableRawPointer, max: Int) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer, max)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw POSIXError.current(path)
        }
    }
    func close() { Glibc.close(fd) }
}

private struct POSIXError: Error, CustomStringConvertible {
    var description: String
    static func current(_ path: String) -> POSIXError {
        POSIXError(description: String(cString: strerror(errno)))
    }
}

/// Chunks from an async producer, fed into a channel by a task and read here on the curl thread.
private final class StreamSource: BodySource {
    let channel: ByteChannel
    let length: Int64?
    let feeder: Task<Void, Never>
    var current = Data()
    var offset = 0

    init(stream: AsyncThrowingStream<Data, any Error>, length: Int64?) {
        let channel = ByteChannel(capacity: 4 << 20)
        self.channel = channel
        self.length = length
        feeder = Task {
            do {
                for try await chunk in stream where !chunk.isEmpty {
                    if !(await channel.put(chunk)) { return }
                }
                channel.finish()
            } catch {
                channel.finish(error: error)
            }
        }
    }

    func read(into buffer: UnsafeMutableRawPointer, max: Int) throws -> Int {
        while offset >= current.count {
            guard let next = try channel.takeBlocking() else { return 0 }
            current = next
            offset = 0
        }
        let n = min(max, current.count - offset)
        current.withUnsafeBytes { raw in
            if let base = raw.baseAddress { buffer.copyMemory(from: base + offset, byteCount: n) }
        }
        offset += n
        return n
    }

    func close() {
        feeder.cancel()
        channel.cancel(CancellationError())
    }
}

/// One request on its own thread. The thread blocks in `curl_easy_perform`, never a Swift
/// concurrency thread; results come back through the callbacks.
final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let configuration: HTTPClient.Configuration
    let logger: Logger
    let pool: HandlePool

    /// Called once on the curl thread when the final status and headers are known.
    var onHead: ((HTTPResponseHead) -> Void)?
    /// Called on the curl thread with each body chunk; returning false or throwing aborts.
    var onData: ((Data) throws -> Bool)?
    /// Called once on the curl thread at the end.
    var onComplete: ((Result<HTTPResponseHead, any Error>) -> Void)?

    private let cancelLock = Lock()
    private var cancelledFlag = false
    private var streamChannel: ByteChannel?
    var isCancelled: Bool { cancelLock.withLock { cancelledFlag } }

    // Curl-thread state.
    private var status = 0
    private var headers = HTTPHeaders()
    private var headDelivered = false
    private var callbackError: (any Error)?
    private var source: (any BodySource)?

    init(request: HTTPRequest, configuration: HTTPClient.Configuration, logger: Logger, pool: HandlePool) {
        self.request = request
        self.configuration = configuration
        self.logger = logger
        self.pool = pool
    }

    /// Aborts the transfer; it ends with `CurlError.Kind.cancelled` within about a second.
    func cancel() {
        let channel = cancelLock.withLock {
            cancelledFlag = true
            return streamChannel
        }
        channel?.cancel(CancellationError())
    }

    func start() {
        let started = startThread { [self] in
            let result = perform()
            onComplete?(result)
            onHead = nil
            onData = nil
            onComplete = nil
        }
        if !started {
            onComplete?(.failure(fail(.transport(code: 0), "cannot start a thread for the request (pthread_create failed: out of memory or thread limits)")))
            onHead = nil
            onData = nil
            onComplete = nil
        }
    }

    private var target: String { request.redactedTarget }

    private func fail(_ kind: CurlError.Kind, _ message: String = "", code: Int? = nil) -> CurlError {
        CurlError(kind: kind, target: target, message: message, curlCode: code)
    }

    private func perform() -> Result<HTTPResponseHead, any Error> {
        if isCancelled { return .failure(fail(.cancelled)) }
        if let problem = CurlLibrary.loadProblem {
            return .failure(fail(.libraryUnavailable, "cannot load libcurl: \(problem)"))
        }
        guard let handle = pool.acquire() else {
            return .failure(fail(.transport(code: -1), "curl_easy_init failed"))
        }
        var slist: UnsafeMutablePointer<curl_slist>?
        defer {
            curl_slist_free_all(slist)
            source?.close()
            pool.release(handle)
        }

        switch request.body {
        case .none: source = nil
        case .data(let d): source = DataSource(d)
        case .file(let path):
            do { source = try FileSource(path: path) } catch {
                return .failure(fail(.unreadableBodyFile(path: path), "\(error)"))
            }
        case .stream(let s, let length): source = StreamSource(stream: s, length: length)
        }
        if let s = source as? StreamSource {
            let cancelled = cancelLock.withLock {
                streamChannel = s.channel
                return cancelledFlag
            }
            if cancelled { s.channel.cancel(CancellationError()) }
        }

        let h = handle.raw
        var bad: CURLcode = CURLE_OK
        func set(_ o: CURLoption, _ v: Int) {
            let r = berth_curl_easy_setopt_long(h, o, v)
            if r != CURLE_OK && bad == CURLE_OK { bad = r }
        }
        func set(_ o: CURLoption, _ v: String) {
            let r = berth_curl_easy_setopt_string(h, o, v)
            if r != CURLE_OK && bad == CURLE_OK { bad = r }
        }

        handle.errorBuffer[0] = 0
        _ = berth_curl_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, handle.errorBuffer)
        set(CURLOPT_URL, request.url)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_BUFFERSIZE, 256 << 10)
        set(CURLOPT_UPLOAD_BUFFERSIZE, 256 << 10)
        if let socket = request.unixSocketPath { set(CURLOPT_UNIX_SOCKET_PATH, socket) }
        set(CURLOPT_USERAGENT, configuration.userAgent)
        let connectTimeout = request.connectTimeout ?? configuration.connectTimeout
        set(CURLOPT_CONNECTTIMEOUT_MS, max(1, connectTimeout.milliseconds))
        if let t = request.timeout { set(CURLOPT_TIMEOUT_MS, max(1, t.milliseconds)) }
        if request.followRedirects {
            set(CURLOPT_FOLLOWLOCATION, 1)
            set(CURLOPT_MAXREDIRS, 10)
        }
        if let ca = configuration.caFile { set(CURLOPT_CAINFO, ca) }
        if let cert = configuration.clientCertificateFile {
            set(CURLOPT_SSLCERT, cert)
            set(CURLOPT_SSLCERTTYPE, "PEM")
        }
        if let key = configuration.clientKeyFile {
            set(CURLOPT_SSLKEY, key)
            set(CURLOPT_SSLKEYTYPE, "PEM")
        }
        if configuration.insecure {
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }

        // Method and body. Every body goes through the read callback as an "upload", with the
        // method named explicitly, so POST/PUT/PATCH all stream the same way.
        let method = request.method
        let sendsBody = source != nil || method == .post || method == .put || method == .patch
        if method == .head {
            set(CURLOPT_NOBODY, 1)
        } else if sendsBody {
            set(CURLOPT_UPLOAD, 1)
            set(CURLOPT_CUSTOMREQUEST, method.rawValue)
            let length = source.map { $0.length ?? -1 } ?? 0
            _ = berth_curl_easy_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
        } else if method != .get {
            set(CURLOPT_CUSTOMREQUEST, method.rawValue)
        }

        var sawExpect = false
        for (name, value) in request.headers {
            if name.lowercased() == "expect" { sawExpect = true }
            // "Name;" is curl's way of sending a header with an empty value.
            slist = curl_slist_append(slist, value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        // 100-continue costs a round trip (up to a second) per upload; the servers we talk to
        // do not need it.
        if !sawExpect { slist = curl_slist_append(slist, "Expect:") }
        _ = berth_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, slist)

        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = berth_curl_easy_setopt_pointer(h, CURLOPT_HEADERDATA, me)
        _ = berth_curl_easy_setopt_data_cb(h, CURLOPT_HEADERFUNCTION) { ptr, size, n, ud in
            guard let ptr, let ud else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(ud).takeUnretainedValue()
            return t.headerLine(UnsafeRawBufferPointer(start: ptr, count: size * n)) ? size * n : 0
        }
        _ = berth_curl_easy_setopt_pointer(h, CURLOPT_WRITEDATA, me)
        _ = berth_curl_easy_setopt_data_cb(h, CURLOPT_WRITEFUNCTION) { ptr, size, n, ud in
            guard let ptr, let ud else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(ud).takeUnretainedValue()
            return t.bodyChunk(UnsafeRawBufferPointer(start: ptr, count: size * n)) ? size * n : 0
        }
        if source != nil {
            _ = berth_curl_easy_setopt_pointer(h, CURLOPT_READDATA, me)
            _ = berth_curl_easy_setopt_data_cb(h, CURLOPT_READFUNCTION) { ptr, size, n, ud in
                guard let ptr, let ud else { return Int(CURL_READFUNC_ABORT) }
                let t = Unmanaged<Transfer>.fromOpaque(ud).takeUnretainedValue()
                return t.readBody(into: ptr, max: size * n)
            }
        }
        set(CURLOPT_NOPROGRESS, 0)
        _ = berth_curl_easy_setopt_pointer(h, CURLOPT_XFERINFODATA, me)
        _ = berth_curl_easy_setopt_xferinfo_cb(h, CURLOPT_XFERINFOFUNCTION) { ud, _, _, _, _ in
            guard let ud else { return 0 }
            // Called at least about once a second even while idle: the cancellation point.
            return Unmanaged<Transfer>.fromOpaque(ud).takeUnretainedValue().isCancelled ? 1 : 0
        }
        if bad != CURLE_OK {
            return .failure(fail(CurlError.kind(for: bad), String(cString: curl_easy_strerror(bad)), code: Int(bad.rawValue)))
        }

        logger.debug("curl request", metadata: ["request": "\(target)"])
        let code = curl_easy_perform(h)

        if let callbackError { return .failure(callbackError) }
        if isCancelled { return .failure(fail(.cancelled)) }
        if code != CURLE_OK {
            var message = String(cString: handle.errorBuffer)
            if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
            if code == CURLE_COULDNT_CONNECT, let path = request.unixSocketPath {
                // libcurl words this as "Failed to connect to localhost port 80", naming the
                // URL's placeholder host instead of the socket it actually tried.
                var osErrno = 0
                _ = berth_curl_easy_getinfo_long(h, CURLINFO_OS_ERRNO, &osErrno)
                message = Self.unixSocketFailure(path: path, errno: Int32(osErrno))
            }
            logger.debug("curl failed", metadata: ["request": "\(target)", "error": "\(message)"])
            return .failure(fail(CurlError.kind(for: code), message, code: Int(code.rawValue)))
        }
        let head = HTTPResponseHead(status: status, headers: headers)
        deliverHead()
        logger.debug("curl response", metadata: ["request": "\(target)", "status": "\(status)"])
        return .success(head)
    }

    /// Why connecting to the unix socket at `path` failed, in words that name the socket.
    static func unixSocketFailure(path: String, errno osErrno: Int32) -> String {
        var st = stat()
        if stat(path, &st) != 0 {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            return "cannot connect to unix socket \(path): \(reason)"
        }
        if st.st_mode & S_IFMT != S_IFSOCK {
            return "cannot connect to unix socket \(path): it exists but is not a socket"
        }
        switch osErrno {
        case ECONNREFUSED:
            return "cannot connect to unix socket \(path): connection refused (the socket exists but nothing listens on it)"
        case 0: return "cannot connect to unix socket \(path)"
        default: return "cannot connect to unix socket \(path): \(String(cString: strerror(osErrno)))"
        }
    }

    private func deliverHead() {
        if headDelivered { return }
        headDelivered = true
        onHead?(HTTPResponseHead(status: status, headers: headers))
    }

    /// One header line, including the status line and the blank line that ends a header block.
    private func headerLine(_ raw: UnsafeRawBufferPointer) -> Bool {
        var end = raw.count
        while end > 0 && (raw[end - 1] == 10 || raw[end - 1] == 13) { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<end]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new response (after 100 Continue or a redirect) starts over.
            headers = HTTPHeaders()
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        } else if line.isEmpty {
            let interim = (100..<200).contains(status)
            let redirected = request.followRedirects && (300..<400).contains(status) && headers["Location"] != nil
            if !interim && !redirected { deliverHead() }
        } else if let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")) {
            headers.add(Self.trimmingBlanks(line.utf8[..<colon]), Self.trimmingBlanks(line.utf8[line.utf8.index(after: colon)...]))
        }
        return !isCancelled
    }

    /// Without the spaces and tabs HTTP allows around a header's name and value (RFC 9110
    /// 5.6.3). By hand: Foundation's `trimmingCharacters` bridges through NSString, whose first
    /// use cost ~1.4 M instructions on the first answer of every run.
    static func trimmingBlanks(_ text: Substring.UTF8View) -> String {
        var text = text
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return String(Substring(text))
    }

    private func bodyChunk(_ raw: UnsafeRawBufferPointer) -> Bool {
        if isCancelled { return false }
        if request.followRedirects && (300..<400).contains(status) && headers["Location"] != nil && !headDelivered {
            return true  // body of a redirect that curl follows
        }
        deliverHead()
        guard let onData, raw.count > 0 else { return true }
        do {
            return try onData(Data(raw))
        } catch {
            callbackError = error
            return false
        }
    }

    private func readBody(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        guard let source, !isCancelled else { return Int(CURL_READFUNC_ABORT) }
        do {
            return try source.read(into: UnsafeMutableRawPointer(buffer), max: max)
        } catch is CancellationError {
            return Int(CURL_READFUNC_ABORT)
        } catch {
            if case .file(let path) = request.body {
                callbackError = fail(.unreadableBodyFile(path: path), "\(error)")
            } else {
                callbackError = error
            }
            return Int(CURL_READFUNC_ABORT)
        }
    }
}

extension Duration {
    var milliseconds: Int {
        let (s, atto) = components
        return Int(s) * 1000 + Int(atto / 1_000_000_000_000_000)
    }
}
