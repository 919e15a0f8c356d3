import CCurl
import Foundation

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

    /// Starts opening libcurl and its global init on another thread and returns at once.
    /// Opening it maps and relocates some thirty libraries and the init sets up OpenSSL (~6 ms);
    /// a command that will talk to the engine calls this first, so that happens on the second
    /// core while it parses its arguments and files. A failure is reported by the first
    /// request, as without it.
    public static func preload() {
        berth_curl_preload()
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
