import CCurl

/// A transfer that did not complete. HTTP error statuses are not `CurlError`s: they are
/// responses, and the caller decides what they mean.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case couldNotResolveHost
        case couldNotConnect
        case timedOut
        case tls
        case cancelled
        case responseTooLarge(limit: Int)
        case unreadableBodyFile(path: String)
        case invalidRequest
        /// libcurl could not be opened (Berth loads it on first use): not installed, or too old.
        case libraryUnavailable
        /// Any other libcurl failure, with its CURLcode.
        case transport(code: Int)
    }

    public var kind: Kind
    /// `METHOD url (via unix socket …)`, credentials in the URL hidden.
    public var target: String
    /// libcurl's message (its error buffer, else `curl_easy_strerror`), or ours.
    public var message: String
    /// The CURLcode, when libcurl reported the failure.
    public var curlCode: Int?

    public init(kind: Kind, target: String, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.target = target
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String {
        var s = "\(target) failed: "
        switch kind {
        case .responseTooLarge(let limit): s += "the response body is larger than \(limit) bytes"
        case .unreadableBodyFile(let path):
            s += "cannot read request body file \(path)" + (message.isEmpty ? "" : ": \(message)")
        case .cancelled: s += "cancelled"
        default: s += message.isEmpty ? "transfer error" : message
        }
        if let curlCode { s += " (curl error \(curlCode))" }
        s += ". " + hint
        return s
    }

    /// What to do about it.
    public var hint: String {
        switch kind {
        case .couldNotResolveHost: return "Check the host name in the URL and the DNS configuration."
        case .couldNotConnect:
            if target.contains("via unix socket") {
                return "Check that the server is running, that the socket exists and that this user may open it."
            }
            return "Check that the server is running and listening on that address and port."
        case .timedOut: return "The server did not answer in time: check that it is reachable, or raise the timeout."
        case .tls:
            return "Check the server's certificate: pass the CA that signed it (caFile, or DOCKER_CERT_PATH/ca.pem), "
                + "or use the insecure switch only for testing."
        case .cancelled: return "The request was cancelled by its caller; nothing to do."
        case .responseTooLarge: return "Stream the response instead of collecting it, or raise the size limit."
        case .unreadableBodyFile: return "Check that the file exists and is readable."
        case .invalidRequest: return "Fix the request (URL, method or option)."
        case .transport: return "Retry; if it persists, check the network path to the server."
        case .libraryUnavailable:
            return "Install libcurl 7.40 or newer as \(CurlLibrary.soname) (Debian/Ubuntu: apt-get install \(CurlLibrary.package))."
        }
    }

    static func kind(for code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .couldNotResolveHost
        case CURLE_COULDNT_CONNECT: return .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT: return .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_SHUTDOWN_FAILED,
            CURLE_SSL_CLIENTCERT:
            return .tls
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return .invalidRequest
        default: return .transport(code: Int(code.rawValue))
        }
    }
}
