import CCurl

/// The libcurl this process is linked with, for `berth doctor`.
public enum CurlLibrary {
    public struct Info: Sendable {
        public var version: String
        public var ssl: String?
        public var unixSockets: Bool
        public var http2: Bool
    }

    public static var info: Info {
        guard let data = berth_curl_version_info()?.pointee else {
            return Info(version: "unknown", ssl: nil, unixSockets: false, http2: false)
        }
        let features = Int32(data.features)
        return Info(
            version: data.version.map { String(cString: $0) } ?? "unknown",
            ssl: data.ssl_version.map { String(cString: $0) },
            unixSockets: features & CURL_VERSION_UNIX_SOCKETS != 0,
            http2: features & CURL_VERSION_HTTP2 != 0)
    }
}
