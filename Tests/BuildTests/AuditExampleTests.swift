import Build
import Engine
import Foundation
import Testing
import TestSupport

/// The example app (manifests/examples/apps/hello): a C program compiled in a build stage on
/// berth.local/debian-build:bookworm and copied into berth.local/debian:bookworm (both made by
/// ops/setup). Plus the audit's two ways of reading an image and its cache.
@Suite(.serialized) struct AuditExampleTests {
    static let example = TestPaths.packageRoot.appendingPathComponent("manifests/examples/apps/hello")
    static var berth: String { TestPaths.packageRoot.appendingPathComponent(".build/debug/berth").path }

    /// A copy of the example in a test project (own name, test label).
    static func writeExample(_ p: TestProject, runtime: String? = nil) throws {
        var dockerfile = try String(contentsOf: example.appendingPathComponent("Dockerfile"), encoding: .utf8)
        if let runtime { dockerfile = dockerfile.replacingOccurrences(of: "FROM berth.local/debian:bookworm", with: "FROM \(runtime) AS runtime") }
        try p.write("hello/Dockerfile", dockerfile)
        try p.write("hello/hello.c", try String(contentsOf: example.appendingPathComponent("hello.c"), encoding: .utf8))
        try p.write("compose.yaml", "services:\n  hello:\n    build: ./hello\n")
    }

    @Test func exampleBuildsOfflineAndIsCleanWithItsLayersNamed() async throws {
        try await withProject("hello") { p in
            try Self.writeExample(p)
            let report = await p.build(try p.plan())
            #expect(report.succeeded, "\(report.failures)")
            let result = try #require(report.result(for: "hello"))
            let auditor = ImageAuditor(engine: TestProject.engine, logger: TestProject.logger)
            let audit = try await auditor.audit(result.imageID).naming(steps: result.stepInstructions)
            #expect(audit.isClean, "\(audit.findings)")
            #expect(audit.libc == "glibc")
            #expect(audit.glibcVersion == "2.36")
            #expect(audit.elfCount > 300)
            let top = try #require(audit.layers.last)
            #expect(top.instruction?.contains("hello/Dockerfile:11 (stage 1): COPY --from=build /out/hello /usr/local/bin/hello") == true,
                    "\(audit.layers)")
            // The binary runs in the runtime image: --check exits 1 (no server), not 127.
            let run = try await Shell.run("/usr/bin/env", ["docker", "run", "--rm", "--label", "\(TestNames.testLabel)=1",
                                                           result.imageID, "/usr/local/bin/hello", "--check"])
            #expect(run.status == 1, "\(run.stderr)")
            #expect(!run.stderr.contains("not found"), "\(run.stderr)")
        }
    }

    @Test func aBinaryCopiedIntoAnotherLibcNamesTheStageThatCopiedIt() async throws {
        try await withProject("hello-bb") { p in
            try Self.writeExample(p, runtime: TestProject.busybox)
            let report = await p.build(try p.plan())
            #expect(report.succeeded, "\(report.failures)")
            let result = try #require(report.result(for: "hello"))
            let audit = try await ImageAuditor(engine: TestProject.engine, logger: TestProject.logger).audit(result.imageID)
                .naming(steps: result.stepInstructions)
            let finding = try #require(audit.findings.first)
            #expect(audit.findings.count == 1, "\(audit.findings)")
            #expect(finding.kind == .missingInterpreter)
            #expect(finding.path == "/usr/local/bin/hello")
            #expect(finding.missing == "/lib64/ld-linux-x86-64.so.2")
            #expect(finding.layer?.index == 1)
            #expect(finding.layer?.diffID?.hasPrefix("sha256:") == true)
            #expect(finding.layer?.stepImage?.hasPrefix("sha256:") == true)
            #expect(finding.layer?.instruction == "hello/Dockerfile:11 (stage runtime): COPY --from=build /out/hello /usr/local/bin/hello",
                    "\(String(describing: finding.layer))")
            #expect(audit.text().contains("from layer 1 (sha256:"))
            #expect(audit.text().contains("(stage runtime): COPY --from=build"))

            // `berth build` prints the same, plain (not a terminal), and caches the named report.
            let state = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("audit-state"))
            defer { try? FileManager.default.removeItem(at: state) }
            let compose = p.directory.appendingPathComponent("compose.yaml").path
            let cli = try await Shell.run("/usr/bin/env", ["BERTH_STATE_DIR=\(state.path)", Self.berth, "build", "-f", compose, "-p", p.name,
                                                           "--no-cache", "--label", "\(TestNames.testLabel)=1"])
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(cli.stdout.contains("hello | Step 1/"), "plain step lines off a terminal: \(cli.stdout)")
            #expect(!cli.stdout.contains("\u{1B}["), "no escape sequences off a terminal")
            #expect(cli.stdout.contains("(stage runtime): COPY --from=build /out/hello"), "\(cli.stdout)")
            let again = try await Shell.run("/usr/bin/env", ["BERTH_STATE_DIR=\(state.path)", Self.berth, "audit", "\(p.name)-hello:latest"])
            #expect(again.stdout.contains("(cached)"), "\(again.stdout)")
            #expect(again.stdout.contains("(stage runtime): COPY --from=build"), "\(again.stdout)")

            // JSON mode: stdout is one JSON document, progress went to stderr.
            let json = try await Shell.run(Self.berth, ["build", "-f", compose, "-p", p.name, "--no-audit", "--output", "json",
                                                        "--label", "\(TestNames.testLabel)=1"])
            #expect(json.status == 0, "\(json.stderr)")
            let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let services = try #require(doc?["services"] as? [[String: Any]])
            #expect(services.first?["result"] as? String == "reused")
            #expect((services.first?["imageID"] as? String)?.hasPrefix("sha256:") == true)
            #expect(json.stderr.contains("hello | "))
        }
    }

    @Test func storageAndExportReadTheSameImage() async throws {
        let image = AuditEngineTests.debian
        let fast = try await ImageAuditor(engine: TestProject.engine, logger: TestProject.logger).audit(image)
        let slow = try await ImageAuditor(engine: TestProject.engine, logger: TestProject.logger, readStorage: false).audit(image)
        #expect(fast.source == .storage, "the engine's overlay2 directories are readable here (root)")
        #expect(slow.source == .export)
        #expect(fast.filesChecked == slow.filesChecked)
        #expect(fast.elfCount == slow.elfCount)
        #expect(fast.staticCount == slow.staticCount)
        #expect(fast.libc == slow.libc && fast.glibcVersion == slow.glibcVersion)
        #expect(fast.highestGlibcNeeded == slow.highestGlibcNeeded)
        #expect(fast.findings == slow.findings)
        #expect(fast.layers.map(\.diffID) == slow.layers.map(\.diffID))
    }

    @Test func reportsAreCachedByImageIDAndVersion() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("audit-cache"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let auditor = ImageAuditor(engine: TestProject.engine, logger: TestProject.logger, cacheDirectory: dir, version: "1.0")
        let first = try await auditor.audit(TestProject.busybox)
        #expect(first.source != .cache)
        let second = try await auditor.audit(TestProject.busybox)
        #expect(second.source == .cache)
        #expect(second.imageID == first.imageID && second.elfCount == first.elfCount && second.findings == first.findings)
        let otherVersion = ImageAuditor(engine: TestProject.engine, logger: TestProject.logger, cacheDirectory: dir, version: "1.1")
        #expect(try await otherVersion.audit(TestProject.busybox).source != .cache, "another Berth version audits again")
    }
}
