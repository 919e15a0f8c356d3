import Build
import Compose
import Foundation
import Testing
import TestSupport

/// Planning needs no engine: everything here fails or succeeds before a build is sent.
@Suite struct PlanTests {
    @Test func heredocIsRefusedWithItsLine() throws {
        try withPlainProject("pt-heredoc") { p in
            try p.write("compose.yaml", "services:\n  web:\n    build: .\n  ok:\n    build: ./ok\n")
            try p.write("Dockerfile", "FROM \(TestProject.busybox)\nRUN <<EOF\necho hi\nEOF\nCOPY --chmod=755 a /a\n")
            try p.write("ok/Dockerfile", "FROM \(TestProject.busybox)\n")
            let error = try #require(throws: BuildError.self) { try p.plan() }
            #expect(error.kind == .dockerfile)
            let text = error.description
            #expect(text.contains("service web: Dockerfile:2: RUN with a heredoc (<<EOF) needs BuildKit"))
            #expect(text.contains("service web: Dockerfile:5: COPY --chmod needs BuildKit"))
            #expect(!text.contains("service ok"))
        }
    }

    @Test func syntaxErrorsOfEveryServiceAreReportedTogether() throws {
        try withPlainProject("pt-syntax") { p in
            try p.write("compose.yaml", "services:\n  a:\n    build: ./a\n  b:\n    build:\n      context: ./b\n      target: nope\n")
            try p.write("a/Dockerfile", "FROM \(TestProject.busybox)\nFROBNICATE now\n")
            try p.write("b/Dockerfile", "FROM \(TestProject.busybox) AS base\n")
            let error = try #require(throws: BuildError.self) { try p.plan() }
            #expect(error.description.contains("2 problems"))
            #expect(error.description.contains("service a: a/Dockerfile:2:"))
            #expect(error.description.contains("service b: b/Dockerfile: target stage \"nope\" could not be found"))
        }
    }

    @Test func missingDockerfileNamesThePath() throws {
        try withPlainProject("pt-missing") { p in
            try p.write("compose.yaml", "services:\n  a:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile.prod\n")
            let error = try #require(throws: BuildError.self) { try p.plan() }
            #expect(error.location == "docker/Dockerfile.prod")
            #expect(error.message == "Dockerfile not found")
        }
    }

    @Test func dockerfileOutsideTheContextTravelsInTheTar() throws {
        try withPlainProject("pt-outside") { p in
            try p.write("compose.yaml", "services:\n  a:\n    build:\n      context: ./src\n      dockerfile: ../docker/a.Dockerfile\n")
            try p.write("src/main.txt", "x")
            try p.write("docker/a.Dockerfile", "FROM \(TestProject.busybox)\nCOPY main.txt /\n")
            let item = try #require(try p.plan().build(for: "a"))
            #expect(item.dockerfile == BuildPlanner.generatedDockerfileName)
            #expect(item.dockerfileSource == "docker/a.Dockerfile")
            #expect(item.generatedDockerfile?.hasPrefix("FROM ") == true)
            #expect(item.labelLine == 2)
        }
    }

    @Test func cycleIsAnErrorWithItsPath() throws {
        try withPlainProject("pt-cycle") { p in
            try p.write("compose.yaml", """
                services:
                  a:
                    image: example/a:1
                    build: ./a
                  b:
                    build: ./b
                  c:
                    build: ./c
                """)
            try p.write("a/Dockerfile", "FROM \(p.name)-b:latest\n")
            try p.write("b/Dockerfile", "FROM docker.io/example/a:1\n")
            try p.write("c/Dockerfile", "FROM example/a:1\n")
            let error = try #require(throws: BuildError.self) { try p.plan() }
            #expect(error.kind == .cycle)
            #expect(error.message.contains("a -> b -> a"))
        }
    }

    @Test func selectionAddsWhatItBuildsFrom() throws {
        try withPlainProject("pt-select") { p in
            try p.write("compose.yaml", """
                services:
                  base:
                    image: acme/base
                    build: ./base
                  app:
                    build: ./app
                  other:
                    build: ./other
                  db:
                    image: postgres
                """)
            try p.write("base/Dockerfile", "FROM \(TestProject.busybox)\n")
            try p.write("app/Dockerfile", "FROM \(TestProject.busybox) AS tools\nFROM scratch\nCOPY --from=acme/base:latest / /\n")
            try p.write("other/Dockerfile", "FROM \(TestProject.busybox)\n")
            let plan = try p.plan { $0.services = ["app"] }
            #expect(plan.builds.map(\.service) == ["base", "app"])
            // The unused `tools` stage is not part of the final target, so busybox is not a base.
            #expect(plan.build(for: "app")?.baseImages == ["acme/base:latest"])

            let noBuild = try #require(throws: BuildError.self) { try p.plan { $0.services = ["db"] } }
            #expect(noBuild.message.contains("no build: section"))
            let unknown = try #require(throws: BuildError.self) { try p.plan { $0.services = ["nope"] } }
            #expect(unknown.description.contains("service nope: no such service"))
        }
    }

    @Test func tagsFollowImageRegistryAndExtraTags() throws {
        try withPlainProject("pt-tags") { p in
            try p.write("compose.yaml", """
                services:
                  named:
                    image: acme/named:2.0
                    build: .
                  plain:
                    build: .
                """)
            try p.write("Dockerfile", "FROM \(TestProject.busybox)\n")
            let local = try p.plan()
            #expect(local.build(for: "named")?.tags == ["acme/named:2.0"])
            #expect(local.build(for: "plain")?.tags == ["\(p.name)-plain:latest"])
            #expect(local.revision == "0123456789abcdef0123")

            let pushed = try p.plan { $0.registry = "127.0.0.1:5000/acme/"; $0.extraTags = ["stable"] }
            #expect(pushed.build(for: "named")?.tags == ["acme/named:2.0", "acme/named:stable"])
            #expect(pushed.build(for: "plain")?.tags == [
                "127.0.0.1:5000/acme/\(p.name)-plain:0123456789ab", "127.0.0.1:5000/acme/\(p.name)-plain:stable",
            ])

            let ambiguous = try #require(throws: BuildError.self) { try p.plan { $0.extraTags = ["other/name:1"] } }
            #expect(ambiguous.location == "--tag other/name:1")
            let single = try p.plan { $0.extraTags = ["other/name:1"]; $0.services = ["plain"] }
            #expect(single.build(for: "plain")?.tags.last == "other/name:1")

            let unknownRevision = try p.plan { $0.revision = nil }
            #expect(unknownRevision.revision == "unknown")
        }
    }

    @Test func releaseLockShape() throws {
        let lock = ReleaseLock(app: "web", commit: "abc", services: [
            "b": .init(image: "127.0.0.1:5000/web-b@sha256:00"), "a": .init(image: "sha256:11"),
        ])
        let text = String(decoding: lock.encoded(), as: UTF8.self)
        #expect(text == """
            {
              "app" : "web",
              "commit" : "abc",
              "services" : {
                "a" : {
                  "image" : "sha256:11"
                },
                "b" : {
                  "image" : "127.0.0.1:5000/web-b@sha256:00"
                }
              }
            }

            """)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("lock") + ".json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try lock.write(to: path)
        #expect(try ReleaseLock.read(from: path) == lock)
        let bad = try #require(throws: BuildError.self) { try ReleaseLock.read(from: path + ".missing") }
        #expect(bad.description.contains(path + ".missing"))
    }
}

func withPlainProject(_ prefix: String, _ body: (TestProject) throws -> Void) throws {
    let project = try TestProject(prefix)
    defer { try? FileManager.default.removeItem(at: project.directory) }
    try body(project)
}
