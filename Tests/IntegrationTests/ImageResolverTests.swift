import Compose
import Engine
import Foundation
import Reconcile
import TestSupport
import Testing

/// Services that share an image resolve it once.
@Suite struct ImageResolverTests {
    /// Five services on one image: one inspect reaches the engine (counted by a proxy in front
    /// of its socket), and every service gets the same ID. Before, each service sent its own,
    /// all at once (and, for an image not yet pulled, its own pull).
    @Test func servicesSharingAnImageResolveItOnce() async throws {
        let name = TestNames.unique("resolve")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("compose.yaml")
        try ("services:\n" + (1...5).map { "  s\($0):\n    image: berth.local/busybox:latest\n" }.joined())
            .write(to: file, atomically: true, encoding: .utf8)
        let project = try ProjectLoader.load(ProjectOptions(files: [file.path], projectName: name), logger: Host.logger)

        let socket = "/tmp/\(name).sock"
        let proxy = try StreamFaultProxy(upstream: .unix(path: "/var/run/docker.sock"), unixPath: socket)
        defer { proxy.stop() }
        let engine = EngineClient(endpoint: EngineEndpoint(.unix(path: socket)), logger: Host.logger)
        let desired = try await DesiredStateBuilder(images: ImageResolver(engine: engine, logger: Host.logger), logger: Host.logger)
            .build(project)

        #expect(desired.services.count == 5)
        #expect(Set(desired.services.map(\.spec.image)).count == 1)
        #expect(proxy.connections == 1, "\(proxy.connections) connections for one image")
    }
}
