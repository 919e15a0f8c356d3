import Build
import Engine
import Foundation
import Testing
import TestSupport

/// `berth build` through the executable `swift test` builds beside the tests.
@Suite struct CommandTests {
    static var berth: String { TestPaths.packageRoot.appendingPathComponent(".build/debug/berth").path }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: berth)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // Files, not pipes: a chatty child can never block on a full pipe.
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-run"))
        let outURL = base.appendingPathExtension("out")
        let errURL = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    @Test func heredocIsRefusedWithoutAnEngine() throws {
        try withPlainProject("ct-heredoc") { p in
            try p.write("compose.yaml", "services:\n  web:\n    build: .\n")
            try p.write("Dockerfile", "FROM \(TestProject.busybox)\nRUN <<EOF\necho hi\nEOF\n")
            let r = try Self.run(["build", "-f", p.directory.appendingPathComponent("compose.yaml").path, "-p", p.name],
                                 environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
            #expect(r.status != 0)
            #expect(r.stderr.contains("Dockerfile:2: RUN with a heredoc (<<EOF) needs BuildKit"), "\(r.stderr)")
            #expect(!r.stderr.contains("nonexistent"))
        }
    }

    @Test func failingBuildExitsNonZeroAndSuccessWritesTheLock() async throws {
        try await withProject("ct-fail") { p in
            let compose = p.directory.appendingPathComponent("compose.yaml").path
            let lock = p.directory.appendingPathComponent("release.json").path
            try p.write("compose.yaml", "services:\n  ok:\n    build: ./ok\n  bad:\n    build: ./bad\n")
            try p.write("ok/Dockerfile", "FROM \(TestProject.busybox)\nRUN true\n")
            try p.write("bad/Dockerfile", "FROM \(TestProject.busybox)\nRUN false\n")
            p.track("\(p.name)-ok:latest")
            p.track("\(p.name)-bad:latest")
            let common = ["build", "-f", compose, "-p", p.name, "--label", "dev.berth.test=1", "--revision", "feedface"]

            let failed = try Self.run(common + ["--release-out", lock])
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("service bad: Step 2/2 : RUN false: The command '/bin/sh -c false' returned a non-zero code: 1"), "\(failed.stderr)")
            #expect(failed.stderr.contains("no tag was moved"))
            #expect(!FileManager.default.fileExists(atPath: lock))
            #expect(failed.stdout.contains("bad | Step 2/2 : RUN false"))
            let okID = try await TestProject.engine.inspectImage("\(p.name)-ok:latest").id
            p.track(okID)

            try p.write("bad/Dockerfile", "FROM \(TestProject.busybox)\nRUN echo fixed\n")
            let fixed = try Self.run(common + ["--release-out", lock, "--output", "json"])
            #expect(fixed.status == 0, "\(fixed.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(fixed.stdout.utf8)) as? [String: Any])
            #expect(json["ok"] as? Bool == true)
            let results = (json["services"] as? [[String: Any]] ?? []).map { "\($0["service"] ?? ""):\($0["result"] ?? "")" }
            #expect(results.sorted() == ["bad:built", "ok:reused"])
            let release = try ReleaseLock.read(from: lock)
            #expect(release.app == p.name)
            #expect(release.commit == "feedface")
            #expect(release.services["ok"]?.image == okID)
            let badID = try await TestProject.engine.inspectImage("\(p.name)-bad:latest").id
            p.track(badID)
            #expect(release.services["bad"]?.image == badID)
        }
    }
}
