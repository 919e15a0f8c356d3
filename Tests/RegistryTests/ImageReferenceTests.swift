import Testing

@testable import Registry

@Suite struct ImageReferenceTests {
    /// Build compares a Dockerfile's FROM with the tags it builds by their canonical forms.
    @Test func canonicalFormsCompareAsTheEngineResolves() {
        #expect(ImageReference.canonical("busybox") == "docker.io/library/busybox:latest")
        #expect(ImageReference.canonical("index.docker.io/library/busybox:latest") == ImageReference.canonical("busybox"))
        #expect(ImageReference.canonical("127.0.0.1:5000/demo/web") == "127.0.0.1:5000/demo/web:latest")
        #expect(ImageReference.canonical("127.0.0.1:5000/demo/web:1") != ImageReference.canonical("127.0.0.1:5000/demo/web"))
        #expect(ImageReference.canonical("Not A Reference") == "Not A Reference")
    }

    @Test(arguments: [
        ("busybox", "docker.io", "library/busybox", "latest", nil),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", nil),
        ("acme/web", "docker.io", "acme/web", "latest", nil),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", nil),
        ("index.docker.io/acme/web:v1", "docker.io", "acme/web", "v1", nil),
        ("localhost:5000/x", "localhost:5000", "x", "latest", nil),
        ("localhost/x", "localhost", "x", "latest", nil),
        ("127.0.0.1:5000/demo/web:tag", "127.0.0.1:5000", "demo/web", "tag", nil),
        ("berth.local/busybox:latest", "berth.local", "busybox", "latest", nil),
        ("[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", nil),
        ("a.b-c/d__e---f/g.h:T_a.g-1", "a.b-c", "d__e---f/g.h", "T_a.g-1", nil),
        ("reg.example.com/a/b/c@sha256:" + String(repeating: "ab", count: 32), "reg.example.com", "a/b/c", nil,
            "sha256:" + String(repeating: "ab", count: 32)),
        ("x:1@sha256:" + String(repeating: "0", count: 64), "docker.io", "library/x", "1",
            "sha256:" + String(repeating: "0", count: 64)),
    ] as [(String, String, String, String?, String?)])
    func parses(_ text: String, _ registry: String, _ repository: String, _ tag: String?, _ digest: String?) throws {
        let r = try ImageReference.parse(text)
        #expect(r.registry == registry)
        #expect(r.repository == repository)
        #expect(r.tag == tag)
        #expect(r.digest == digest)
    }

    @Test func descriptionIsTheFullForm() throws {
        #expect(try ImageReference.parse("busybox").description == "docker.io/library/busybox:latest")
        #expect(try ImageReference.parse("127.0.0.1:5000/demo/web:1").description == "127.0.0.1:5000/demo/web:1")
        #expect(try ImageReference.parse("127.0.0.1:5000/demo/web:1").name == "127.0.0.1:5000/demo/web")
        #expect(try ImageReference.parse("busybox").apiHost == "registry-1.docker.io")
    }

    @Test(arguments: [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("acme/Web", "lowercase"),
        ("a b", "whitespace"),
        ("busybox:", "tag \"\""),
        ("busybox:-x", "tag \"-x\""),
        ("busybox:" + String(repeating: "t", count: 129), "tag"),
        ("busybox@sha256:abc", "64 lowercase hex"),
        ("busybox@md5:" + String(repeating: "0", count: 32), "must start with sha256:"),
        ("a//b", "empty path component"),
        ("/a", "empty path component"),
        ("a/", "empty path component"),
        ("localhost:99999/x", "port"),
        ("reg-.example.com/x", "not a valid host name"),
        ("a/b_-c", "path component"),
        ("a.b_c/x", "not a valid host name"),
        ("a/.b", "path component"),
        ("a/b.", "path component"),
    ])
    func rejects(_ text: String, _ fragment: String) {
        do {
            let r = try ImageReference.parse(text)
            Issue.record("parsed \(text) as \(r)")
        } catch {
            #expect(error.kind == .invalidReference)
            #expect(error.description.contains(fragment), "\(error.description)")
            #expect(error.description.contains("[registry[:port]/]repository"))
        }
    }

    @Test func loopbackHosts() {
        #expect(ImageReference.isLoopback(host: "127.0.0.1:5000"))
        #expect(ImageReference.isLoopback(host: "127.8.9.10"))
        #expect(ImageReference.isLoopback(host: "localhost:5000"))
        #expect(ImageReference.isLoopback(host: "[::1]:5000"))
        #expect(!ImageReference.isLoopback(host: "128.0.0.1:5000"))
        #expect(!ImageReference.isLoopback(host: "127.0.0.1.example.com"))
        #expect(!ImageReference.isLoopback(host: "registry.example.com"))
        #expect(!ImageReference.isLoopback(host: "docker.io"))
    }
}
