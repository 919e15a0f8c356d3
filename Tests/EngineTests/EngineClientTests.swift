import Curl
import Foundation
import Logging
import TestSupport
import Testing

@testable import Engine

private let engine = EngineClient(endpoint: .default, logger: Logger(label: "engine-tests"))
private let busybox = "berth.local/busybox:latest"
private let testLabels = [TestNames.testLabel: "1"]

/// Removes the container whatever happened in the test.
private func withContainer<T>(
    _ prefix: String, cmd: [String], tty: Bool = false, _ body: (String) async throws -> T
) async throws -> T {
    let name = TestNames.unique(prefix)
    var config = ContainerConfig(image: busybox, cmd: cmd, labels: testLabels)
    config.tty = tty
    config.stopTimeout = 1
    let created = try await engine.createContainer(name: name, ContainerCreateRequest(config: config))
    do {
        let result = try await body(created.id)
        try? await engine.removeContainer(created.id, force: true)
        return result
    } catch {
        try? await engine.removeContainer(created.id, force: true)
        throw error
    }
}

@Suite struct EndpointTests {
    @Test func percentEncodingKeepsOnlyUnreservedBytes() {
        #expect(EngineClient.escape(#"{"label":["a=b c"]}"#) == "%7B%22label%22%3A%5B%22a%3Db%20c%22%5D%7D")
        #expect(EngineClient.escape("é-._~") == "%C3%A9-._~")
        #expect(EngineClient.segment("127.0.0.1:5000/web:1", keepSlash: true) == "127.0.0.1:5000/web:1")
        #expect(EngineClient.segment("a/b@sha256:0") == "a%2Fb@sha256:0")
    }

    @Test func defaultIsDockerSocket() {
        #expect(EngineEndpoint.fromEnvironment([:]) == EngineEndpoint(.unix(path: "/var/run/docker.sock")))
    }

    @Test func unixHost() {
        let e = EngineEndpoint.fromEnvironment(["DOCKER_HOST": "unix:///run/user/1000/docker.sock"])
        #expect(e.transport == .unix(path: "/run/user/1000/docker.sock"))
        #expect(e.baseURL == "http://localhost")
        #expect(e.unixSocketPath == "/run/user/1000/docker.sock")
    }

    @Test func tcpPlainAndTLS() throws {
        let plain = EngineEndpoint.fromEnvironment(["DOCKER_HOST": "tcp://10.0.0.5"])
        #expect(plain.transport == .tcp(host: "10.0.0.5", port: 2375, tls: nil))
        #expect(plain.baseURL == "http://10.0.0.5:2375")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("certs"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for f in ["ca.pem", "cert.pem", "key.pem"] { try Data("x".utf8).write(to: dir.appendingPathComponent(f)) }
        let tls = EngineEndpoint.fromEnvironment([
            "DOCKER_HOST": "tcp://docker.example:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir.path,
        ])
        guard case .tcp(let host, let port, let t?) = tls.transport else {
            Issue.record("expected tcp+TLS, got \(tls)")
            return
        }
        #expect(host == "docker.example" && port == 2376)
        #expect(t.verify)
        #expect(t.caFile == dir.appendingPathComponent("ca.pem").path)
        #expect(t.certificateFile == dir.appendingPathComponent("cert.pem").path)
        #expect(t.keyFile == dir.appendingPathComponent("key.pem").path)
        #expect(tls.baseURL == "https://docker.example:2376")
        let conf = tls.httpConfiguration
        #expect(conf.clientCertificateFile != nil && conf.insecure == false)
        // TLS without verify still defaults to port 2376.
        let noVerify = EngineEndpoint.fromEnvironment(["DOCKER_HOST": "tcp://h", "DOCKER_TLS": "1"])
        if case .tcp(_, let p, let t?) = noVerify.transport {
            #expect(p == 2376 && !t.verify)
        } else {
            Issue.record("expected TLS")
        }
    }

    @Test func badHostFailsRequestsWithReason() async throws {
        let e = EngineEndpoint.fromEnvironment(["DOCKER_HOST": "ssh://user@host"])
        guard case .invalid(let reason) = e.transport else {
            Issue.record("expected invalid")
            return
        }
        #expect(reason.contains("ssh://"))
        let client = EngineClient(endpoint: e, logger: Logger(label: "t"))
        let error = await #expect(throws: EngineError.self) { try await client.info() }
        #expect(error?.kind == .invalidEndpoint)
        #expect(error?.description.contains("DOCKER_HOST") == true)
    }

    @Test func versionCompare() {
        #expect(EngineClient.compare("1.41", "1.40") == 1)
        #expect(EngineClient.compare("1.9", "1.40") == -1)
        #expect(EngineClient.compare("1.41", "1.41") == 0)
        #expect(EngineClient.choose(engineVersion: "1.43") == "1.41")
        #expect(EngineClient.choose(engineVersion: "1.41") == "1.41")
        #expect(EngineClient.choose(engineVersion: "1.40") == "1.40")
        #expect(EngineClient.choose(engineVersion: "1.39") == nil)
        let tooOld = EngineError(
            kind: .unsupportedVersion("1.39"), method: "GET", path: "/_ping", endpoint: "unix:///x", message: "old")
        #expect(tooOld.description.contains("1.40 or newer"))
    }

    @Test func splitTag() {
        #expect(EngineClient.splitTag("127.0.0.1:5000/a/b:v1") == ("127.0.0.1:5000/a/b", "v1"))
        #expect(EngineClient.splitTag("127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", "latest"))
        #expect(EngineClient.splitTag("busybox@sha256:abc") == ("busybox@sha256:abc", nil))
    }

    @Test func createBodyFlattensConfig() throws {
        var config = ContainerConfig(image: "img", cmd: ["sh"], labels: ["a": "b"])
        config.env = ["X=1"]
        var host = HostConfig(networkMode: "bridge")
        host.portBindings = ["80/tcp": [PortBinding(hostIP: "127.0.0.1", hostPort: "8080")]]
        let body = ContainerCreateRequest(
            config: config, hostConfig: host,
            networkingConfig: NetworkingConfig(endpointsConfig: ["n": EndpointSettings(aliases: ["web"])]))
        let json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        #expect(json["Image"] as? String == "img")
        #expect(json["Env"] as? [String] == ["X=1"])
        #expect(json["Hostname"] == nil)
        let hc = try #require(json["HostConfig"] as? [String: Any])
        #expect(hc["NetworkMode"] as? String == "bridge")
        let pb = try #require(hc["PortBindings"] as? [String: Any])
        #expect((pb["80/tcp"] as? [[String: String]])?.first?["HostPort"] == "8080")
        let nc = try #require(json["NetworkingConfig"] as? [String: Any])
        #expect(((nc["EndpointsConfig"] as? [String: Any])?["n"] as? [String: Any])?["Aliases"] as? [String] == ["web"])
    }
}

@Suite struct EngineClientTests {
    @Test func pingVersionInfo() async throws {
        let ping = try await engine.ping()
        #expect(ping.apiVersion != nil)
        let version = try await engine.version()
        #expect(version.apiVersion == "1.41")
        #expect(try await engine.apiVersion() == "1.41")
        let info = try await engine.info()
        #expect(info.driver?.isEmpty == false)
        #expect(info.serverVersion?.hasPrefix("20.10") == true)
        #expect(info.swarm?.localNodeState != nil)
    }

    @Test func containerLifecycle() async throws {
        try await withContainer("engine-life", cmd: ["sh", "-c", "echo out; echo err >&2; exec sleep 30"]) { id in
            let created = try await engine.inspectContainer(id)
            #expect(created.state?.status == "created")
            #expect(created.config?.labels?[TestNames.testLabel] == "1")

            try await engine.startContainer(id)
            try await engine.startContainer(id)  // 304 is fine
            let running = try await engine.inspectContainer(id)
            #expect(running.state?.running == true)
            #expect(running.restartCount == 0)
            #expect(running.networkSettings?.networks?["bridge"] != nil)

            let listed = try await engine.listContainers(filters: ["label": ["\(TestNames.testLabel)=1"], "id": [id]])
            #expect(listed.map(\.id) == [id])
            #expect(listed.first?.state == "running")

            // Give the shell a moment to print.
            var logs = (stdout: "", stderr: "")
            for _ in 0..<50 {
                logs = try await engine.logs(id).collect()
                if logs.stderr.contains("err") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(logs.stdout == "out\n")
            #expect(logs.stderr == "err\n")

            try await engine.stopContainer(id, timeout: 1)
            try await engine.stopContainer(id, timeout: 1)  // 304 is fine
            let stopped = try await engine.inspectContainer(id)
            #expect(stopped.state?.running == false)
            #expect(stopped.state?.status == "exited")

            let newName = TestNames.unique("engine-renamed")
            try await engine.renameContainer(id, to: newName)
            #expect(try await engine.inspectContainer(newName).id == id)

            try await engine.removeContainer(id)
            let gone = await #expect(throws: EngineError.self) { try await engine.inspectContainer(id) }
            #expect(gone?.status == 404)
        }
    }

    @Test func waitReturnsExitCode() async throws {
        try await withContainer("engine-wait", cmd: ["sh", "-c", "exit 3"]) { id in
            try await engine.startContainer(id)
            let r = try await engine.waitContainer(id)
            #expect(r.statusCode == 3)
        }
    }

    @Test func killEndsContainer() async throws {
        try await withContainer("engine-kill", cmd: ["sleep", "30"]) { id in
            try await engine.startContainer(id)
            try await engine.killContainer(id, signal: "KILL")
            let r = try await engine.waitContainer(id, condition: .notRunning)
            #expect(r.statusCode == 137)
            #expect(try await engine.inspectContainer(id).state?.exitCode == 137)
            // Killing a stopped container is a conflict the engine reports.
            let error = await #expect(throws: EngineError.self) { try await engine.killContainer(id) }
            #expect(error?.isConflict == true)
        }
    }

    @Test func ttyLogsAreRaw() async throws {
        try await withContainer("engine-tty", cmd: ["echo", "hello tty"], tty: true) { id in
            try await engine.startContainer(id)
            _ = try await engine.waitContainer(id)
            let logs = try await engine.logs(id).collect()
            #expect(logs.stdout.contains("hello tty"))
            #expect(logs.stderr.isEmpty)
        }
    }

    @Test func missingContainerIs404NamingIt() async throws {
        let name = TestNames.unique("engine-missing")
        let error = await #expect(throws: EngineError.self) { try await engine.inspectContainer(name) }
        #expect(error?.status == 404)
        #expect(error?.isNotFound == true)
        #expect(error?.description.contains(name) == true)
        #expect(error?.description.contains("docker ps -a") == true)
        #expect(error?.path == "/v1.41/containers/\(name)/json")
        #expect(error?.method == "GET")
    }

    @Test func nameConflictIs409() async throws {
        try await withContainer("engine-conflict", cmd: ["true"]) { id in
            let name = try await engine.inspectContainer(id).plainName
            let error = await #expect(throws: EngineError.self) {
                try await engine.createContainer(name: name, ContainerCreateRequest(config: ContainerConfig(image: busybox, labels: testLabels)))
            }
            #expect(error?.isConflict == true)
            #expect(error?.description.contains("Conflict") == true)
        }
    }

    @Test func unreachableEngineSaysStartDockerd() async throws {
        let client = EngineClient(endpoint: EngineEndpoint(.unix(path: "/nonexistent/docker.sock")), logger: Logger(label: "t"))
        let error = await #expect(throws: EngineError.self) { try await client.ping() }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("Is dockerd running? Start it with ops/setup") == true)
        #expect(error?.description.contains("/nonexistent/docker.sock") == true)
    }

    @Test func networksAndVolumes() async throws {
        let netName = TestNames.unique("engine-net")
        let netID = try await engine.createNetwork(NetworkCreateRequest(name: netName, labels: testLabels))
        do {
            let nets = try await engine.listNetworks(filters: ["label": ["\(TestNames.testLabel)=1"], "name": [netName]])
            #expect(nets.map(\.name) == [netName])
            let net = try await engine.inspectNetwork(netName)
            #expect(net.id == netID)
            #expect(net.driver == "bridge")
            #expect(net.labels?[TestNames.testLabel] == "1")

            try await withContainer("engine-netc", cmd: ["sleep", "30"]) { id in
                try await engine.connectNetwork(netName, container: id, endpoint: EndpointSettings(aliases: ["svc"]))
                let c = try await engine.inspectContainer(id)
                #expect(c.networkSettings?.networks?[netName]?.aliases?.contains("svc") == true)
                try await engine.disconnectNetwork(netName, container: id)
            }
        } catch {
            try? await engine.removeNetwork(netID)
            throw error
        }
        try await engine.removeNetwork(netID)
        let gone = await #expect(throws: EngineError.self) { try await engine.inspectNetwork(netName) }
        #expect(gone?.status == 404)
        #expect(gone?.description.contains("docker network ls") == true)

        let volName = TestNames.unique("engine-vol")
        let vol = try await engine.createVolume(VolumeCreateRequest(name: volName, labels: testLabels))
        #expect(vol.name == volName)
        let vols = try await engine.listVolumes(filters: ["label": ["\(TestNames.testLabel)=1"], "name": [volName]])
        #expect(vols.map(\.name) == [volName])
        #expect(try await engine.inspectVolume(volName).labels?[TestNames.testLabel] == "1")
        try await engine.removeVolume(volName)
        #expect(try await engine.listVolumes(filters: ["name": [volName]]).isEmpty)
    }

    @Test func imagesInspectTagRemove() async throws {
        let image = try await engine.inspectImage(busybox)
        #expect(image.repoTags?.contains(busybox) == true)
        #expect(image.id.hasPrefix("sha256:"))
        let listed = try await engine.listImages(filters: ["reference": [busybox]])
        #expect(listed.map(\.id).contains(image.id))

        let repo = "berth.local/\(TestNames.unique("engine-tag"))"
        try await engine.tagImage(busybox, repository: repo, tag: "t1")
        #expect(try await engine.inspectImage("\(repo):t1").id == image.id)
        let removed = try await engine.removeImage("\(repo):t1")
        #expect(removed.contains { $0.untagged == "\(repo):t1" })
        let gone = await #expect(throws: EngineError.self) { try await engine.inspectImage("\(repo):t1") }
        #expect(gone?.status == 404)
        #expect(gone?.description.contains("pull or build") == true)
    }

    @Test func pullOfMissingImageFails() async throws {
        let ref = "127.0.0.1:5000/berth-test/\(TestNames.unique("missing")):nope"
        let error = await #expect(throws: EngineError.self) { try await engine.pullImage(ref) }
        #expect(error?.description.contains("berth-test") == true)
        #expect(error?.description.contains("check the reference") == true)
    }

    @Test func pullFromLocalRegistry() async throws {
        let repo = "127.0.0.1:5000/berth-test/\(TestNames.unique("busybox"))"
        // Put the image into the registry with skopeo, a tool independent of Berth.
        let skopeo = Process()
        skopeo.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        skopeo.arguments = [
            "skopeo", "copy", "--quiet", "--dest-tls-verify=false", "docker-daemon:\(busybox)", "docker://\(repo):v1",
        ]
        try skopeo.run()
        skopeo.waitUntilExit()
        try #require(skopeo.terminationStatus == 0, "skopeo copy failed")

        let messages = MessageLog()
        do {
            try await engine.pullImage("\(repo):v1") { messages.add($0) }
            #expect(messages.statuses.contains { $0.contains("Downloaded newer image") || $0.contains("Image is up to date") })
            let pulled = try await engine.inspectImage("\(repo):v1")
            #expect(pulled.repoDigests?.contains { $0.hasPrefix(repo + "@sha256:") } == true)
        } catch {
            _ = try? await engine.removeImage("\(repo):v1", force: true)
            throw error
        }
        try await engine.removeImage("\(repo):v1", force: true)
    }

    @Test func eventsSeeContainerStart() async throws {
        let events = try await engine.events(filters: [
            "type": ["container"], "event": ["start"], "label": ["\(TestNames.testLabel)=1"],
        ])
        try await withContainer("engine-events", cmd: ["true"]) { id in
            try await engine.startContainer(id)
            let seen = try await withThrowingTaskGroup(of: EngineEvent?.self) { group in
                group.addTask {
                    for try await event in events where event.actor?.id == id { return event }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(20))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            #expect(seen?.action == "start")
            #expect(seen?.actor?.attributes?[TestNames.testLabel] == "1")
            #expect(seen?.actor?.attributes?["image"] == busybox)
        }
        events.cancel()
    }

    @Test func logDemultiplexing() async throws {
        try await withContainer("engine-demux", cmd: ["sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; echo e$i >&2; i=$((i+1)); done"]) { id in
            try await engine.startContainer(id)
            _ = try await engine.waitContainer(id)
            var outLines = 0
            var errLines = 0
            for try await frame in try await engine.logs(id, tty: false) {
                if frame.source == .stdout { outLines += frame.text.split(separator: "\n").count }
                if frame.source == .stderr { errLines += frame.text.split(separator: "\n").count }
            }
            #expect(outLines == 200)
            #expect(errLines == 200)
        }
    }
}

private final class MessageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [JSONMessage] = []
    func add(_ m: JSONMessage) { lock.withLock { list.append(m) } }
    var statuses: [String] { lock.withLock { list.compactMap(\.status) } }
    var streams: [String] { lock.withLock { list.compactMap(\.stream) } }
}

/// A tar build context with one Dockerfile, made by tar(1).
private func buildContext(_ dockerfile: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-ctx"))
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try Data(dockerfile.utf8).write(to: dir.appendingPathComponent("Dockerfile"))
    let tarPath = dir.appendingPathExtension("tar")
    let tar = Process()
    tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    tar.arguments = ["tar", "-cf", tarPath.path, "-C", dir.path, "Dockerfile"]
    try tar.run()
    tar.waitUntilExit()
    try FileManager.default.removeItem(at: dir)
    return tarPath
}

@Suite struct BuildTests {
    @Test func buildTagExportRemove() async throws {
        let ctx = try buildContext("FROM \(busybox)\nRUN echo built > /built\n")
        defer { try? FileManager.default.removeItem(at: ctx) }
        let tag = "berth.local/\(TestNames.unique("engine-build")):t"
        let lines = MessageLog()
        let id = try await engine.buildImage(
            context: .file(path: ctx.path), options: ImageBuildOptions(tags: [tag], labels: testLabels),
            progress: { lines.add($0) })
        do {
            let image = try await engine.inspectImage(tag)
            #expect(id == image.id)
            #expect(image.config?.labels?[TestNames.testLabel] == "1")
            #expect(lines.streams.joined().contains("RUN echo built"))

            var bytes = 0
            var sawManifest = false
            for try await chunk in try await engine.exportImage(tag) {
                bytes += chunk.count
                if chunk.range(of: Data("manifest.json".utf8)) != nil { sawManifest = true }
            }
            #expect(bytes > 1_000_000)
            #expect(sawManifest)
        } catch {
            _ = try? await engine.removeImage(tag, force: true)
            throw error
        }
        try await engine.removeImage(tag, force: true)
    }

    @Test func failingBuildStepThrows() async throws {
        let ctx = try buildContext("FROM \(busybox)\nRUN exit 7\n")
        defer { try? FileManager.default.removeItem(at: ctx) }
        let tag = "berth.local/\(TestNames.unique("engine-fail")):t"
        let error = await #expect(throws: EngineError.self) {
            try await engine.buildImage(context: .file(path: ctx.path), options: ImageBuildOptions(tags: [tag], labels: testLabels))
        }
        #expect(error?.kind == .streamError)
        #expect(error?.description.contains("non-zero code: 7") == true)
        #expect(error?.description.contains(tag) == true)
    }
}

@Suite struct VersionNegotiationTests {
    /// An engine that speaks 1.41 costs no negotiation: requests go out as 1.41 at once, and
    /// the first accepted one settles the version for `apiVersion()` too.
    @Test func currentEngineIsNotAskedForItsVersion() async throws {
        let log = CapturedLog()
        let client = EngineClient(endpoint: .default, logger: log.logger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { _ = try await client.listNetworks() } }
            try await group.waitForAll()
        }
        #expect(log.count("engine API version") == 0)
        #expect(try await client.apiVersion() == "1.41")
        #expect(log.count("engine API version") == 0)
    }

    /// An older engine refuses 1.41: the parallel first calls share one negotiation, each is
    /// sent again once with the engine's version, and later calls use it at once.
    @Test func olderEngineRefusalNegotiatesOnceAndRetries() async throws {
        let fake = try FakeEngine(apiVersion: "1.40")
        defer { fake.stop() }
        let log = CapturedLog()
        let client = EngineClient(endpoint: fake.endpoint, logger: log.logger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let networks = try await client.listNetworks()
                    #expect(networks.isEmpty)
                }
            }
            try await group.waitForAll()
        }
        #expect(log.count("engine API version") == 1)
        #expect(fake.paths.filter { $0 == "/_ping" }.count == 1)
        #expect(fake.paths.filter { $0.hasPrefix("/v1.41/networks") }.count == 8)
        #expect(fake.paths.filter { $0.hasPrefix("/v1.40/networks") }.count == 8)
        _ = try await client.listNetworks()
        #expect(fake.paths.last?.hasPrefix("/v1.40/networks") == true)
        #expect(fake.paths.filter { $0.hasPrefix("/v1.41/") }.count == 8)
        #expect(try await client.apiVersion() == "1.40")
    }

    /// An engine older than 1.40 is still refused with the clear error, not its 400.
    @Test func tooOldEngineIsRefused() async throws {
        let fake = try FakeEngine(apiVersion: "1.39")
        defer { fake.stop() }
        let client = EngineClient(endpoint: fake.endpoint, logger: Logger(label: "t"))
        let error = await #expect(throws: EngineError.self) { try await client.listNetworks() }
        #expect(error?.kind == .unsupportedVersion("1.39"))
        #expect(error?.description.contains("older than the 1.40 Berth needs") == true)
    }

    /// Only the version refusal is retried; other 400s are the caller's.
    @Test func recognisesTheVersionRefusal() {
        #expect(EngineClient.isRefusedVersion(status: 400, message: "client version 1.41 is too new. Maximum supported API version is 1.40"))
        #expect(EngineClient.isRefusedVersion(status: 400, message: "client is newer than server (client API version: 1.41, server API version: 1.24)"))
        #expect(!EngineClient.isRefusedVersion(status: 500, message: "client version 1.41 is too new. Maximum supported API version is 1.40"))
        #expect(!EngineClient.isRefusedVersion(status: 400, message: "invalid reference format"))
        #expect(!EngineClient.isRefusedVersion(status: 400, message: "client version 1.12 is too old. Minimum supported API version is 1.24"))
    }

    /// A failed negotiation (engine not there yet) is not remembered: once the engine
    /// answers, the next call negotiates and succeeds.
    @Test func failedNegotiationIsRetried() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("engine-sock")).path
        let client = EngineClient(endpoint: EngineEndpoint(.unix(path: path)), logger: Logger(label: "t"))
        await #expect(throws: EngineError.self) { try await client.apiVersion() }
        let proxy = try StreamFaultProxy(upstream: .unix(path: "/var/run/docker.sock"), unixPath: path)
        defer { proxy.stop() }
        #expect(try await client.apiVersion() == "1.41")
    }
}

/// An HTTP server on 127.0.0.1 that answers like a Docker engine of `apiVersion` for
/// `/_ping` and `/vX/networks`, refusing newer client versions as dockerd's middleware does.
/// One request per connection.
final class FakeEngine: @unchecked Sendable {
    let apiVersion: String
    let endpoint: EngineEndpoint
    private let listenFD: Int32
    private let lock = NSLock()
    private var seen: [String] = []

    var paths: [String] { lock.withLock { seen } }

    init(apiVersion: String) throws {
        struct ListenFailed: Error {}
        guard let l = LoopbackListener.open(backlog: 64) else { throw ListenFailed() }
        self.apiVersion = apiVersion
        listenFD = l.fd
        endpoint = EngineEndpoint.fromEnvironment(["DOCKER_HOST": "tcp://127.0.0.1:\(l.port)"])
        LoopbackListener.serveEach(listenFD) { [self] in serve($0) }
    }

    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var head = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            head += buffer[0..<n]
        }
        let line = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let target = line.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let path = String(target.split(separator: "?").first ?? "")
        lock.withLock { seen.append(path) }
        var status = "200 OK", body = "[]"
        if path == "/_ping" {
            body = "OK"
        } else if let v = path.split(separator: "/").first, v.hasPrefix("v"), EngineClient.compare(String(v.dropFirst()), apiVersion) > 0 {
            status = "400 Bad Request"
            body = #"{"message":"client version \#(v.dropFirst()) is too new. Maximum supported API version is \#(apiVersion)"}"#
        } else if !path.hasSuffix("/networks") {
            status = "404 Not Found"
            body = #"{"message":"page not found"}"#
        }
        let answer = "HTTP/1.1 \(status)\r\nAPI-Version: \(apiVersion)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = Array(answer.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
