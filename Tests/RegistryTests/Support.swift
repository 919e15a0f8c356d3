import Curl
import Foundation
import Logging
import Testing
import TestSupport

@testable import Registry

let testRegistry = ProcessInfo.processInfo.environment["BERTH_TEST_REGISTRY"] ?? "127.0.0.1:5000"
let busyboxImage = "berth.local/busybox:latest"

/// Runs a command, returning its status and output.
@discardableResult
func run(_ args: [String], input: Data? = nil) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes before waiting so a chatty command cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// `docker save berth.local/busybox:latest`, made once per test process.
let busyboxTarball: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-registry-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent("busybox.tar")
    let r = try? run(["docker", "save", "-o", path.path, busyboxImage])
    precondition(r?.status == 0, "docker save \(busyboxImage) failed: \(r?.err ?? "not run"); run ops/setup")
    return path
}()

func testLogger() -> Logger {
    var l = Logger(label: "berth.registry.test")
    l.logLevel = ProcessInfo.processInfo.environment["BERTH_TEST_LOG"] == nil ? .warning : .debug
    return l
}

func makeClient(credentials: CredentialStore = .anonymous, options: RegistryClient.Options = RegistryClient.Options())
    -> RegistryClient
{
    let logger = testLogger()
    return RegistryClient(http: HTTPClient(logger: logger), credentials: credentials, options: options, logger: logger)
}

func uniqueRef(_ prefix: String = "busybox", registry: String = testRegistry, tag: String = "t1") throws -> ImageReference {
    try ImageReference.parse("\(registry)/berth-test/\(TestNames.unique(prefix)):\(tag)")
}

/// The file's bytes as a stream of small chunks, as the engine's export arrives.
func chunkedStream(_ url: URL, chunk: Int = 64 << 10) -> AsyncThrowingStream<Data, any Error> {
    AsyncThrowingStream { continuation in
        do {
            let data = try Data(contentsOf: url)
            var i = 0
            while i < data.count {
                continuation.yield(data.subdata(in: i..<min(data.count, i + chunk)))
                i += chunk
            }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
}

struct SkopeoInspect: Decodable {
    var Digest: String
    var Layers: [String]
}

func skopeoInspect(_ ref: ImageReference, creds: String? = nil) throws -> SkopeoInspect {
    var args = ["skopeo", "inspect", "--tls-verify=false"]
    if let creds { args += ["--creds", creds] }
    args.append("docker://\(ref)")
    let r = try run(args)
    guard r.status == 0 else { throw RegistryError(.invalidResponse, "skopeo inspect failed: \(r.err)") }
    return try JSONDecoder().decode(SkopeoInspect.self, from: Data(r.out.utf8))
}
