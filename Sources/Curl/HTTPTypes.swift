import FoundationEssentials
import Glibc

/// An HTTP method. Any token is allowed; the common ones have names.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }

    public static let get = HTTPMethod(rawValue: "GET")
    public static let head = HTTPMethod(rawValue: "HEAD")
    public static let post = HTTPMethod(rawValue: "POST")
    public static let put = HTTPMethod(rawValue: "PUT")
    public static let patch = HTTPMethod(rawValue: "PATCH")
    public static let delete = HTTPMethod(rawValue: "DELETE")
}

/// Header fields in order. Lookup ignores case; repeated fields are all kept.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public private(set) var fields: [(name: String, value: String)]

    public init() { fields = [] }
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value of `name`, compared without case.
    public subscript(name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Replaces every field called `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public var count: Int { fields.count }

    /// Names only: values may carry secrets (Authorization, tokens) and must never be logged.
    public var description: String { "[" + fields.map(\.name).joined(separator: ", ") + "]" }
}

/// What a request sends as its body.
public enum HTTPBody: Sendable {
    case none
    case data(Data)
    /// The file's bytes, read while sending; the length is the file's size at start.
    case file(path: String)
    /// Chunks from a producer, read while sending. Without `length` the body is sent with
    /// chunked transfer encoding. An error thrown by the stream fails the request with that error.
    case stream(AsyncThrowingStream<Data, any Error>, length: Int64?)
}

/// One HTTP request. Build one per call; it is a value.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// Absolute URL (`http://` or `https://`). With `unixSocketPath`, the host part only
    /// fills the Host header (Docker uses `http://localhost/...`).
    public var url: String
    public var headers: HTTPHeaders
    public var body: HTTPBody
    /// Connect to this unix socket instead of the URL's host and port.
    public var unixSocketPath: String?
    /// Limit on the whole transfer. `nil` means none, as streaming endpoints (`/events`,
    /// build output, logs with follow) need.
    public var timeout: Duration?
    /// Overrides the client's connect timeout.
    public var connectTimeout: Duration?
    public var followRedirects: Bool

    public init(
        method: HTTPMethod = .get, url: String, headers: HTTPHeaders = HTTPHeaders(),
        body: HTTPBody = .none, unixSocketPath: String? = nil, timeout: Duration? = nil,
        connectTimeout: Duration? = nil, followRedirects: Bool = false
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.unixSocketPath = unixSocketPath
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.followRedirects = followRedirects
    }

    /// `METHOD url`, with any user:password in the URL hidden; for logs and errors.
    public var redactedTarget: String {
        var s = "\(method) \(HTTPRequest.redact(url))"
        if let unixSocketPath { s += " (via unix socket \(unixSocketPath))" }
        return s
    }

    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(rest[at...])
    }
}

/// Status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }
    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A response whose body was collected into memory.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders, body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
    /// The body decoded as UTF-8 (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A response whose status and headers have arrived and whose body is still being received.
/// Read `body` to the end, or drop it / cancel the reading task to abort the transfer.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public let body: HTTPBodyStream

    public var head: HTTPResponseHead { HTTPResponseHead(status: status, headers: headers) }
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// Reads the rest of the body into memory, failing beyond `maxSize` bytes.
    public func collect(maxSize: Int = HTTPClient.defaultMaxBodySize) async throws -> Data {
        var out = Data()
        for try await chunk in body {
            if out.count + chunk.count > maxSize {
                body.cancel()
                throw CurlError(kind: .responseTooLarge(limit: maxSize), target: body.target, message: "")
            }
            out.append(chunk)
        }
        return out
    }
}
