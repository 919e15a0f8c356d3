import CCurl
import FoundationEssentials
import Glibc

/// The libcurl this process uses, for `berth doctor`. Berth does not link libcurl: it opens it
/// with dlopen on the first request (see Sources/CCurl/curl_dlopen.c), so commands that make no
/// request start faster.
public enum CurlLibrary {
    public struct Info: Sendable {
        public var version: String
        public var ssl: String?
        public var unixSockets: Bool
        public var http2: Bool
        /// Why libcurl could not be loaded; nil when it was (and the other fields are its).
        public var loadError: String?
    }

    /// The shared library Berth opens, and the Debian package that has it.
    public static let soname = "libcurl.so.4"
    public static let package = "libcurl4"

    /// Loads libcurl once per process: nil when it is usable, else why not (dlerror's message, or
    /// the function it lacks). Nothing in libcurl may be called unless this is nil.
    static let loadProblem: String? = {
        var buffer = [CChar](repeating: 0, count: 512)
        guard berth_curl_load(&buffer, buffer.count) != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Opens libcurl if that has not happened yet. Requests do this themselves (and fail with the
    /// same error); call it to find out early.
    public static func load() throws(CurlError) {
        if let problem = loadProblem {
            throw CurlError(kind: .libraryUnavailable, target: "dlopen(\(soname))", message: problem)
        }
    }

    public static var info: Info {
        if let problem = loadProblem {
            return Info(version: "not loaded", ssl: nil, unixSockets: false, http2: false, loadError: problem)
        }
        guard let data = berth_curl_version_info()?.pointee else {
            return Info(version: "unknown", ssl: nil, unixSockets: false, http2: false, loadError: nil)
        }
        let features = Int32(data.features)
        return Info(
            version: data.version.map { String(cString: $0) } ?? "unknown",
            ssl: data.ssl_version.map { String(cString: $0) },
            unixSockets: features & CURL_VERSION_UNIX_SOCKETS != 0,
            http2: features & CURL_VERSION_HTTP2 != 0,
            loadError: nil)
    }
}
