import Foundation
import Testing
import TestSupport

/// With no engine behind DOCKER_HOST, every command that needs one fails with exit status 1 and
/// a message that names the socket it tried, instead of crashing or blaming "localhost port 80".
@Suite struct EngineDownTests {
    /// A compose project on disk whose only service has a build, so both commands reach the engine.
    private struct Project {
        let dir: URL
        let name = TestNames.unique("berth-down")
        let socket = "/tmp/\(TestNames.unique("berth-no-engine")).sock"

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-down"))
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("app"), withIntermediateDirectories: true)
            try Data("FROM berth.local/busybox:latest\nCMD [\"true\"]\n".utf8)
                .write(to: dir.appendingPathComponent("app/Dockerfile"))
            try Data("""
            services:
              app:
                image: \(name)-app:latest
                build: ./app
                labels:
                  dev.berth.test: "1"

            """.utf8).write(to: dir.appendingPathComponent("compose.yaml"))
        }

        func berth(_ args: [String]) async throws -> Shell.Result {
            try await Shell.run(Host.berthBinary, args + ["-p", name], environment: ["DOCKER_HOST": "unix://\(socket)"],
                                directory: dir.path)
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }
    }

    private func expectClearFailure(_ r: Shell.Result, socket: String, _ comment: Comment) {
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(comment): \(output)")
        #expect(output.contains("cannot connect to unix socket \(socket): no such file"), "\(comment): \(output)")
        #expect(output.contains("Is dockerd running?"), "\(comment): \(output)")
        #expect(!output.contains("port 80"), "\(comment): \(output)")
        #expect(!output.contains("Fatal error"), "\(comment): \(output)")
    }

    @Test func reconcileNamesTheSocket() async throws {
        let p = try Project()
        defer { p.remove() }
        expectClearFailure(try await p.berth(["reconcile"]), socket: p.socket, "reconcile")
        expectClearFailure(try await p.berth(["reconcile", "--dry-run"]), socket: p.socket, "reconcile --dry-run")
    }

    @Test func buildNamesTheSocket() async throws {
        let p = try Project()
        defer { p.remove() }
        expectClearFailure(try await p.berth(["build"]), socket: p.socket, "build")
    }

    @Test func doctorNamesTheSocket() async throws {
        let socket = "/tmp/\(TestNames.unique("berth-no-engine")).sock"
        let r = try await Shell.run(Host.berthBinary, ["doctor"], environment: ["DOCKER_HOST": "unix://\(socket)"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL engine    unix://\(socket): cannot connect to unix socket \(socket): no such file"), "\(r.stdout)")
        #expect(!r.stdout.contains("port 80"))
    }
}
