import CCurl
import Testing

@testable import Curl

#if canImport(Glibc)
    import Glibc
#endif

/// Berth opens libcurl with dlopen on first use instead of linking it (Sources/CCurl): loading
/// must work, be idempotent, and give a libcurl whose functions answer through the forwarders.
@Suite struct CurlLoadTests {
    @Test func loadingIsIdempotent() throws {
        try CurlLibrary.load()
        try CurlLibrary.load()
        var error = [CChar](repeating: 0, count: 64)
        #expect(berth_curl_load(&error, error.count) == 0)
        #expect(berth_curl_load(nil, 0) == 0)
        #expect(error.allSatisfy { $0 == 0 }, "a successful load writes no error")
        #expect(CurlLibrary.info.loadError == nil)
    }

    @Test func loadsTheLibcurlOfTheHeaders() throws {
        try CurlLibrary.load()
        // RTLD_NOLOAD only finds a library already mapped: the loader opened this very soname.
        let handle = dlopen(CurlLibrary.soname, RTLD_NOW | RTLD_NOLOAD)
        #expect(handle != nil)
        if let handle { dlclose(handle) }
        let info = CurlLibrary.info
        #expect(info.version == LIBCURL_VERSION)
        #expect(info.unixSockets)
    }

    @Test func forwardersReachLibcurl() throws {
        try CurlLibrary.load()
        #expect(String(cString: curl_easy_strerror(CURLE_COULDNT_CONNECT)) == "Couldn't connect to server")
        let list = curl_slist_append(curl_slist_append(nil, "A: 1"), "B: 2")
        defer { curl_slist_free_all(list) }
        #expect(list.flatMap { $0.pointee.next }.map { String(cString: $0.pointee.data) } == "B: 2")
        // A variadic call through the typed wrappers.
        let easy = try #require(curl_easy_init())
        defer { curl_easy_cleanup(easy) }
        #expect(berth_curl_easy_setopt_string(easy, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        #expect(berth_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
    }

    @Test func missingLibraryErrorSaysWhatToInstall() {
        let error = CurlError(kind: .libraryUnavailable, target: "GET http://example.test/",
                              message: "cannot load libcurl: libcurl.so.4: cannot open shared object file: No such file or directory")
        #expect(error.description.contains("cannot open shared object file"))
        #expect(error.description.contains("apt-get install libcurl4"))
        #expect(!HTTPClient.mayRetry(HTTPRequest(url: "http://example.test/"), error))
    }
}
