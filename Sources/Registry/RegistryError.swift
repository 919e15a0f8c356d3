import Curl
import FoundationEssentials
import Platform
import Glibc

/// One entry of a registry's `{"errors": [...]}` body.
public struct RegistryErrorDetail: Sendable, Hashable, CustomStringConvertible {
    /// `DIGEST_INVALID`, `UNAUTHORIZED`, `BLOB_UNKNOWN`, `MANIFEST_INVALID`, …
    public var code: String
    public var message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message.isEmpty ? code : "\(code): \(message)" }
}

/// Everything that can go wrong in the Registry module: what, where (request, file, reference)
/// and what to do.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Hashable {
        case invalidReference
        /// The registry refused the credentials, or needs some and none were found.
        case unauthorized
        /// Authenticated, but not allowed (403 / `DENIED`).
        case denied
        /// The registry answered with an error status.
        case registry(status: Int)
        /// The registry's digest differs from ours.
        case digestMismatch
        /// The `docker save` tarball is unreadable, truncated or inconsistent.
        case badTarball
        /// The tarball does not hold the requested image.
        case imageNotInTarball
        /// Plain http to a host that is not loopback, without `insecure`.
        case insecureRefused
        /// The connection failed (see the underlying `CurlError`).
        case transport
        /// A local file could not be read or written.
        case io
        /// The registry answered something that is not the distribution protocol.
        case invalidResponse
        case compression
    }

    public var kind: Kind
    public var message: String
    /// `METHOD url` of the failing request, when there was one.
    public var request: String?
    /// The registry's `errors[]`.
    public var details: [RegistryErrorDetail]
    public var hint: String
    /// The transport error behind a `.transport` failure.
    public var underlying: CurlError?
    /// Seconds the registry asked us to wait (`Retry-After`).
    package var retryAfter: Double?

    public init(
        _ kind: Kind, _ message: String, request: String? = nil, details: [RegistryErrorDetail] = [],
        hint: String = "", underlying: CurlError? = nil
    ) {
        self.kind = kind
        self.message = message
        self.request = request
        self.details = details
        self.hint = hint
        self.underlying = underlying
    }

    public var description: String {
        var s = ""
        if let request { s += "\(request): " }
        s += message
        if !details.isEmpty { s += " (registry says: " + details.map(\.description).joined(separator: "; ") + ")" }
        if !hint.isEmpty { s += ". " + hint }
        return s
    }

    /// The registry's error codes, e.g. `["DIGEST_INVALID"]`.
    public var codes: [String] { details.map(\.code) }

    /// Worth trying again after a pause: 5xx, 429 and lost connections.
    package var isRetryable: Bool {
        switch kind {
        case .registry(let status): return status >= 500 || status == 429
        case .transport:
            guard let k = underlying?.kind else { return true }
            switch k {
            case .cancelled, .invalidRequest, .tls, .couldNotResolveHost, .unreadableBodyFile, .responseTooLarge,
                 .libraryUnavailable:
                return false
            default: return true
            }
        default: return false
        }
    }

    /// The registry no longer knows the upload session (cut off, expired, or replayed after
    /// a lost connection): the blob's upload must start again.
    var isLostUploadSession: Bool { codes.contains("BLOB_UPLOAD_UNKNOWN") || codes.contains("BLOB_UPLOAD_INVALID") }

    /// Builds the error for a response with an error status, with the registry's codes.
    package static func from(response: HTTPResponse, request: HTTPRequest, doing what: String) -> RegistryError {
        let details = parseDetails(response.body)
        let codes = Set(details.map(\.code))
        let target = request.redactedTarget
        var e: RegistryError
        switch response.status {
        case 401:
            e = RegistryError(.unauthorized, "\(what) failed: 401 Unauthorized", request: target, details: details,
                hint: "Check the credentials: --username/--password, BERTH_REGISTRY_USER/BERTH_REGISTRY_PASSWORD, "
                    + "or `docker login` (~/.docker/config.json)")
        case 403:
            e = RegistryError(.denied, "\(what) failed: 403 Forbidden", request: target, details: details,
                hint: "The account may not push to this repository; ask the registry's owner for push access")
        default:
            var hint = "Retry later; if it persists, check the registry's log"
            if codes.contains("DIGEST_INVALID") || codes.contains("SIZE_INVALID") {
                hint = "The uploaded bytes did not match their digest; the upload was damaged on the way or "
                    + "the layer changed while reading: retry, and delete the blob cache if it persists"
            } else if codes.contains("BLOB_UPLOAD_UNKNOWN") || codes.contains("BLOB_UPLOAD_INVALID") {
                hint = "The registry dropped the upload session (the connection was cut, or the upload expired); push again"
            } else if codes.contains("BLOB_UNKNOWN") || codes.contains("MANIFEST_BLOB_UNKNOWN") {
                hint = "The registry lost a blob we believed it had; delete the blob cache and push again"
            } else if codes.contains("MANIFEST_INVALID") {
                hint = "The registry rejected the manifest; check that it accepts this manifest format (try --format oci or docker)"
            } else if codes.contains("NAME_INVALID") || codes.contains("TAG_INVALID") {
                hint = "Use a repository name and tag the registry accepts"
            } else if codes.contains("NAME_UNKNOWN") {
                hint = "The repository does not exist on the registry; create it or check the name"
            } else if codes.contains("UNSUPPORTED") {
                hint = "The registry does not support this operation"
            } else if codes.contains("DENIED") {
                hint = "The account may not push to this repository"
            } else if response.status == 404 {
                hint = "Check the registry address and repository name"
            } else if response.status == 429 {
                hint = "The registry is rate limiting; wait and push again"
            } else if response.status < 500 {
                hint = "The registry refused the request"
            }
            e = RegistryError(.registry(status: response.status), "\(what) failed: HTTP \(response.status)",
                request: target, details: details, hint: hint)
            if codes.contains("DENIED") { e.kind = .denied }
        }
        if let ra = response.headers["Retry-After"], let seconds = Double(ra.trimming(.whitespaces)) {
            e.retryAfter = seconds
        }
        return e
    }

    /// `from(response:request:doing:)` for a reply given as parts, for callers without Curl's types.
    package static func from(
        status: Int, headers: [(String, String)], body: Data, method: String, url: String, doing what: String
    ) -> RegistryError {
        from(response: HTTPResponse(status: status, headers: HTTPHeaders(headers), body: body),
            request: HTTPRequest(method: HTTPMethod(rawValue: method), url: url), doing: what)
    }

    /// The `errors[]` of a distribution error body; empty when the body is not one.
    package static func parseDetails(_ body: Data) -> [RegistryErrorDetail] {
        struct Body: Decodable {
            struct Item: Decodable {
                var code: String?
                var message: String?

                init(from decoder: any Decoder) throws {
                    let c = try decoder.container(keyedBy: JSONKey.self)
                    code = try? c.decode(String.self, forKey: JSONKey("code"))
                    message = try? c.decode(String.self, forKey: JSONKey("message"))
                }
            }
            var errors: [Lenient<Item>]
        }
        guard let errors = (try? JSONDecoder().decode(Body.self, from: body))?.errors else { return [] }
        // An empty code says as little as a missing one; printed as is it left "(registry says: )".
        return errors.map {
            let code = ($0.value?.code).flatMap { $0.isEmpty ? nil : $0 } ?? "UNKNOWN"
            return RegistryErrorDetail(code: code, message: $0.value?.message ?? "")
        }
    }

    static func transport(_ error: CurlError) -> RegistryError {
        var hint = error.hint
        if error.kind == .tls {
            hint = "The registry's TLS certificate was not accepted: pass the CA that signed it with --ca-file "
                + "(or BERTH_REGISTRY_CA), or fix the certificate's names and dates"
        }
        return RegistryError(.transport, error.message.isEmpty ? "transfer failed" : error.message, request: error.target,
            hint: hint, underlying: error)
    }

    static func io(_ what: String, _ path: String, _ reason: String) -> RegistryError {
        RegistryError(.io, "\(what) \(path): \(reason)", hint: "Check that the path exists, is readable/writable and the disk is not full")
    }
}
