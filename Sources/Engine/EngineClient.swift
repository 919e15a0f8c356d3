import Curl
import FoundationEssentials
import Platform
import Glibc
import Logging

/// Docker Engine API client (v1.41, or the engine's version when lower, down to 1.40).
/// Safe to share; make one per endpoint and keep it.
public final class EngineClient: Sendable {
    /// The API version Berth is written against.
    public static let preferredAPIVersion = "1.41"
    /// The oldest engine API Berth accepts.
    public static let minimumAPIVersion = "1.40"

    public let endpoint: EngineEndpoint
    let http: HTTPClient
    let logger: Logger
    let requestTimeout: Duration
    private let negotiated = VersionCache()

    /// - Parameter requestTimeout: limit for ordinary calls; streams (events, logs with follow,
    ///   pull, wait) have none.
    public init(endpoint: EngineEndpoint = .fromEnvironment(), logger: Logger, requestTimeout: Duration = .seconds(120)) {
        self.endpoint = endpoint
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.http = HTTPClient(configuration: endpoint.httpConfiguration, logger: logger)
    }

    // MARK: version negotiation

    /// The API version for requests: 1.41, or the engine's when lower. Requests do not wait
    /// for it: until it is known they go out as 1.41 at once, and only an engine that refuses
    /// that version as too new (`isRefusedVersion`) costs a negotiation and one retry. This
    /// asks the engine once (`/_ping`, else `/version`) unless a request already settled it,
    /// and remembers. Calls that arrive while the question is out wait for its answer instead
    /// of asking again; a failed negotiation is forgotten so the next call asks again.
    /// Throws `unsupportedVersion` for an engine older than 1.40.
    public func apiVersion() async throws -> String {
        try await negotiated.value { try await self.negotiate() }
    }

    private func negotiate() async throws -> String {
        let ping = try await ping()
        var engineVersion = ping.apiVersion
        if engineVersion == nil {
            engineVersion = try await version().apiVersion
        }
        guard let engineVersion else {
            throw error(.badResponse, "GET", "/version", "the engine did not report its API version")
        }
        guard let chosen = Self.choose(engineVersion: engineVersion) else {
            throw error(
                .unsupportedVersion(engineVersion), "GET", "/_ping",
                "the engine speaks API \(engineVersion), older than the \(Self.minimumAPIVersion) Berth needs")
        }
        logger.debug("engine API version", metadata: ["engine": "\(engineVersion)", "using": "\(chosen)"])
        return chosen
    }

    /// The version a versioned request goes out with, and whether it is a guess that the
    /// engine may refuse. A body that cannot be sent twice (a stream) waits for the answer.
    private func requestVersion(body: HTTPBody) async throws -> (version: String, optimistic: Bool) {
        if let known = negotiated.known { return (known, false) }
        if case .stream = body { return (try await apiVersion(), false) }
        return (Self.preferredAPIVersion, true)
    }

    /// Docker's engine refuses a client API version newer than its own in a middleware, before
    /// any handler runs (so the request had no effect): 400 with "client version 1.41 is too
    /// new. Maximum supported API version is 1.40" (engines before 17.06: "client is newer
    /// than server (client API version: …, server API version: …)").
    static func isRefusedVersion(status: Int, message: String) -> Bool {
        guard status == 400 else { return false }
        let m = message.lowercased()
        return (m.contains("client version") && m.contains("is too new")) || m.contains("client is newer than server")
    }

    /// The version to speak with an engine that offers `engineVersion`; nil when too old.
    static func choose(engineVersion: String) -> String? {
        if compare(engineVersion, minimumAPIVersion) < 0 { return nil }
        return compare(engineVersion, preferredAPIVersion) < 0 ? engineVersion : preferredAPIVersion
    }

    /// Compares dotted version numbers numerically.
    static func compare(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }
        let y = b.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? x[i] : 0
            let r = i < y.count ? y[i] : 0
            if l != r { return l < r ? -1 : 1 }
        }
        return 0
    }

    // MARK: requests

    /// Query parameters in order; nil values are left out.
    public typealias Query = [(String, String?)]

    func error(_ kind: EngineError.Kind, _ method: String, _ path: String, _ message: String, transport: CurlError? = nil)
        -> EngineError
    {
        EngineError(kind: kind, method: method, path: path, endpoint: endpoint.description, message: message, transport: transport)
    }

    private func makeRequest(
        _ method: HTTPMethod, _ path: String, query: Query, body: HTTPBody, headers: HTTPHeaders, version: String?,
        timeout: Duration?
    ) -> (HTTPRequest, String) {
        let fullPath = version.map { "/v\($0)\(path)" } ?? path
        var url = endpoint.baseURL + fullPath
        let q = query.compactMap { k, v in v.map { "\(Self.escape(k))=\(Self.escape($0))" } }
        if !q.isEmpty { url += "?" + q.joined(separator: "&") }
        var h = headers
        if case .data = body, !h.contains("Content-Type") { h.add("Content-Type", "application/json") }
        let request = HTTPRequest(
            method: method, url: url, headers: h, body: body, unixSocketPath: endpoint.unixSocketPath, timeout: timeout)
        return (request, fullPath)
    }

    static func escape(_ s: String) -> String { percentEncoded(s, keeping: "-._~") }

    /// Escapes one path segment; `/` is kept for image names (`registry/repo:tag`).
    static func segment(_ s: String, keepSlash: Bool = false) -> String {
        percentEncoded(s, keeping: keepSlash ? "-._~:@/" : "-._~:@")
    }

    /// RFC 3986 percent-encoding of every UTF-8 byte but ASCII letters, digits and `keeping`.
    /// By hand: Foundation's `addingPercentEncoding` goes through NSString and generic string
    /// code whose first use cost a no-op run nine protocol-conformance scans of the binary.
    static func percentEncoded(_ s: String, keeping: StaticString) -> String {
        let kept = UnsafeBufferPointer(start: keeping.utf8Start, count: keeping.utf8CodeUnitCount)
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(byte)
            default:
                if kept.contains(byte) {
                    out.append(byte)
                } else {
                    out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Sends a request and collects the answer; a status outside 2xx (and 304 unless
    /// `accepting` includes it) throws `EngineError` with the engine's message.
    /// For modules that need calls this client does not wrap (build, swarm).
    public func call(
        _ method: HTTPMethod, _ path: String, query: Query = [], body: HTTPBody = .none,
        headers: HTTPHeaders = HTTPHeaders(), accepting: Set<Int> = [], versioned: Bool = true,
        timeout: Duration? = nil
    ) async throws -> HTTPResponse {
        try checkEndpoint(method, path)
        let send = { (version: String?) async throws -> (HTTPResponse, String) in
            let (request, fullPath) = self.makeRequest(
                method, path, query: query, body: body, headers: headers, version: version,
                timeout: timeout ?? self.requestTimeout)
            do {
                return (try await self.http.send(request), fullPath)
            } catch let e as CurlError {
                throw self.error(.unreachable, method.rawValue, fullPath, e.message, transport: e)
            }
        }
        var (response, fullPath): (HTTPResponse, String)
        if versioned {
            let (version, optimistic) = try await requestVersion(body: body)
            (response, fullPath) = try await send(version)
            if optimistic {
                if response.status == 400, Self.isRefusedVersion(status: 400, message: Self.engineMessage(response.body)) {
                    let agreed = try await apiVersion()
                    if agreed != version { (response, fullPath) = try await send(agreed) }
                } else if response.isSuccess {
                    negotiated.settle(version)
                }
            }
        } else {
            (response, fullPath) = try await send(nil)
        }
        if !response.isSuccess && !accepting.contains(response.status) {
            throw error(.status(response.status), method.rawValue, fullPath, Self.engineMessage(response.body))
        }
        return response
    }

    /// Sends a request and returns once the engine answered with success; the body streams.
    /// Without a timeout: for events, logs with follow, pull and build output.
    public func openStream(
        _ method: HTTPMethod, _ path: String, query: Query = [], body: HTTPBody = .none,
        headers: HTTPHeaders = HTTPHeaders(), versioned: Bool = true
    ) async throws -> HTTPStreamingResponse {
        try checkEndpoint(method, path)
        let open = { (version: String?) async throws -> (HTTPStreamingResponse, String) in
            let (request, fullPath) = self.makeRequest(
                method, path, query: query, body: body, headers: headers, version: version, timeout: nil)
            do {
                return (try await self.http.stream(request), fullPath)
            } catch let e as CurlError {
                throw self.error(.unreachable, method.rawValue, fullPath, e.message, transport: e)
            }
        }
        var version: String?
        var optimistic = false
        if versioned { (version, optimistic) = try await requestVersion(body: body) }
        var (response, fullPath) = try await open(version)
        if !response.isSuccess {
            let body = (try? await response.collect(maxSize: 1 << 20)) ?? Data()
            let message = Self.engineMessage(body)
            guard optimistic, Self.isRefusedVersion(status: response.status, message: message) else {
                throw error(.status(response.status), method.rawValue, fullPath, message)
            }
            let agreed = try await apiVersion()
            guard agreed != version else { throw error(.status(response.status), method.rawValue, fullPath, message) }
            (response, fullPath) = try await open(agreed)
            if !response.isSuccess {
                let body = (try? await response.collect(maxSize: 1 << 20)) ?? Data()
                throw error(.status(response.status), method.rawValue, fullPath, Self.engineMessage(body))
            }
        } else if optimistic, let version {
            negotiated.settle(version)
        }
        return response
    }

    private func checkEndpoint(_ method: HTTPMethod, _ path: String) throws {
        if case .invalid(let reason) = endpoint.transport {
            throw error(.invalidEndpoint, method.rawValue, path, reason)
        }
    }

    /// The engine's `{"message": …}`, else the body as text.
    static func engineMessage(_ body: Data) -> String {
        struct Message: Decodable { var message: String }
        if let m = try? JSONDecoder().decode(Message.self, from: body) { return m.message }
        let text = String(decoding: body.prefix(2000), as: UTF8.self).trimming(.whitespacesAndNewlines)
        return text.isEmpty ? "(no message)" : text
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, _ method: String, _ path: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw self.error(.badResponse, method, path, "cannot decode \(T.self): \(error)")
        }
    }

    /// Reads an answer with one of the slim readers (`SwarmServiceSummary.list` …).
    func scan<T>(_ response: HTTPResponse, _ method: String, _ path: String, _ read: (Data) throws -> T) throws -> T {
        do {
            return try read(response.body)
        } catch {
            throw self.error(.badResponse, method, path, "cannot read the answer: \(error)")
        }
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String, query: Query = []) async throws -> T {
        let r = try await call(.get, path, query: query)
        return try decode(T.self, r, "GET", path)
    }

    func encode<T: Encodable>(_ value: T) throws -> HTTPBody {
        .data(try JSONEncoder().encode(value))
    }

    /// The `filters` query value, e.g. `{"label":["a=b"]}`; written by hand, as a plan's list
    /// calls are the only JSON a short command would otherwise encode.
    static func filtersJSON(_ filters: [String: [String]]) -> String? {
        guard !filters.isEmpty else { return nil }
        var w = CanonicalJSONWriter()
        w.bytes.append(UInt8(ascii: "{"))
        for (i, (key, values)) in filters.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.bytes.append(UInt8(ascii: ",")) }
            w.quoted(key)
            w.bytes.append(UInt8(ascii: ":"))
            w.bytes.append(UInt8(ascii: "["))
            for (j, value) in values.enumerated() {
                if j > 0 { w.bytes.append(UInt8(ascii: ",")) }
                w.quoted(value)
            }
            w.bytes.append(UInt8(ascii: "]"))
        }
        w.bytes.append(UInt8(ascii: "}"))
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func flag(_ b: Bool) -> String { b ? "1" : "0" }
}

private final class VersionCache: @unchecked Sendable {
    private let lock = Lock()
    private var answer: String?
    private var pending: Task<String, any Error>?

    /// The version once negotiated or settled by a request the engine accepted.
    var known: String? { lock.withLock { answer } }

    /// Records a version the engine accepted, unless one is known already.
    func settle(_ version: String) {
        lock.withLock { if answer == nil { answer = version } }
    }

    func value(negotiate: @escaping @Sendable () async throws -> String) async throws -> String {
        enum Known { case answer(String), asking(Task<String, any Error>) }
        let known: Known = lock.withLock {
            if let answer { return .answer(answer) }
            if let pending { return .asking(pending) }
            let task = Task { try await negotiate() }
            pending = task
            return .asking(task)
        }
        let task: Task<String, any Error>
        switch known {
        case .answer(let v): return v
        case .asking(let t): task = t
        }
        do {
            let v = try await task.value
            lock.withLock { answer = v; pending = nil }
            return v
        } catch {
            lock.withLock { if pending == task { pending = nil } }
            throw error
        }
    }
}
