import Foundation
import Testing
import TestSupport
@testable import Build

@Suite struct ContextTests {
    let base: URL

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-context"))
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String = "x", in dir: URL? = nil, mode: Int = 0o644) throws {
        let url = (dir ?? base.appendingPathComponent("ctx")).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    func link(_ relative: String, to target: String) throws {
        let url = base.appendingPathComponent("ctx").appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
    }

    var ctx: String { base.appendingPathComponent("ctx").path }
    func tar(_ name: String) -> String { base.appendingPathComponent(name).path }

    func listing(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-tvf", path, "--numeric-owner"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    func makeTree() throws -> String {
        let long = String(repeating: "deep-directory-name/", count: 6) + String(repeating: "f", count: 90) + ".txt"
        try write("Dockerfile", "FROM scratch\nCOPY . /\n")
        try write(".dockerignore", "*.log\nbuild\n!build/keep\n")
        try write("src/main.c", "int main(void) { return 0; }\n")
        try write("src/run.sh", "#!/bin/sh\n", mode: 0o755)
        try write("app.log", "noise")
        try write("build/out.o", "obj")
        try write("build/keep", "kept")
        try write(long, "long name")
        try write("naïve/ünïcode.txt", "utf8 name")
        try link("src/current", to: "main.c")
        return long
    }

    @Test func deterministicAcrossRunsAndTouch() throws {
        let long = try makeTree()
        let first = try BuildContext.write(directory: ctx, to: tar("a.tar"))
        let second = try BuildContext.write(directory: ctx, to: tar("b.tar"))
        #expect(first.digest == second.digest)
        #expect(first.digest.hasPrefix("sha256:") && first.digest.count == 71)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.path)) == Data(contentsOf: URL(fileURLWithPath: second.path)))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: first.path))
        #expect(first.size % 512 == 0 && first.size == Int64(bytes.count))

        for path in ["Dockerfile", "src/main.c", "build/keep", long] {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 3600)],
                                                  ofItemAtPath: ctx + "/" + path)
        }
        let touched = try BuildContext.write(directory: ctx, to: tar("c.tar"))
        #expect(touched.digest == first.digest)

        #expect(first.entries == [
            ".dockerignore", "Dockerfile", "build/keep",
            "deep-directory-name/", "deep-directory-name/deep-directory-name/",
            "deep-directory-name/deep-directory-name/deep-directory-name/",
            "deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/",
            "deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/",
            "deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/deep-directory-name/",
            long, "naïve/", "naïve/ünïcode.txt", "src/", "src/current", "src/main.c", "src/run.sh",
        ])

        let list = try listing(first.path)
        #expect(list.contains(long))
        #expect(list.contains("naïve/ünïcode.txt"))
        #expect(list.contains("src/current -> main.c"))
        #expect(list.contains("-rwxr-xr-x 0/0"))
        #expect(list.contains("1970-01-01"))
        #expect(!list.contains("app.log") && !list.contains("out.o"))

        try write("src/main.c", "int main(void) { return 1; }\n")
        let changed = try BuildContext.write(directory: ctx, to: tar("d.tar"))
        #expect(changed.digest != first.digest)
        try write("src/main.c", "int main(void) { return 0; }\n", mode: 0o600)
        let chmodded = try BuildContext.write(directory: ctx, to: tar("e.tar"))
        #expect(chmodded.digest != first.digest)
    }

    @Test func symlinksLeavingTheContextAreRefused() throws {
        try write("Dockerfile", "FROM scratch\n")
        try write("secret", "s", in: base)
        try link("evil", to: "../secret")
        let e1 = #expect(throws: BuildContextError.self) { try BuildContext.write(directory: ctx, to: tar("x.tar")) }
        #expect(e1?.location == ctx + "/evil")
        #expect(e1?.description.contains("symlink -> ../secret resolves above the context directory, outside the build context") == true)
        #expect(!FileManager.default.fileExists(atPath: tar("x.tar")))

        try FileManager.default.removeItem(atPath: ctx + "/evil")
        try link("abs", to: "/etc/passwd")
        let e2 = #expect(throws: BuildContextError.self) { try BuildContext.write(directory: ctx, to: tar("y.tar")) }
        #expect(e2?.description.contains("abs: symlink -> /etc/passwd is absolute") == true)

        // Through another link that .dockerignore hides: still followed, still refused.
        try FileManager.default.removeItem(atPath: ctx + "/abs")
        try write(".dockerignore", "hidden\n")
        try link("hidden", to: "..")
        try link("sneaky", to: "hidden/secret")
        let e3 = #expect(throws: BuildContextError.self) { try BuildContext.write(directory: ctx, to: tar("z.tar")) }
        #expect(e3?.location == ctx + "/sneaky")

        // Once gone, the context archives.
        try FileManager.default.removeItem(atPath: ctx + "/sneaky")
        let ok = try BuildContext.write(directory: ctx, to: tar("ok.tar"))
        #expect(ok.entries == [".dockerignore", "Dockerfile"])
    }

    @Test func dockerfileAndIgnoreFileAreAlwaysIncluded() throws {
        try write("docker/Dockerfile", "FROM scratch\n")
        try write("docker/other", "o")
        try write(".dockerignore", "*\n")
        try write("src/a.c", "a")
        let archive = try BuildContext.write(directory: ctx, dockerfile: "docker/Dockerfile", to: tar("t.tar"))
        #expect(archive.entries == [".dockerignore", "docker/Dockerfile"])
    }

    @Test func missingDockerfileAndContext() throws {
        try write("README", "r")
        let e1 = #expect(throws: BuildContextError.self) { try BuildContext.write(directory: ctx, to: tar("m.tar")) }
        #expect(e1?.description.contains("Dockerfile not found in the build context") == true)
        let e2 = #expect(throws: BuildContextError.self) {
            try BuildContext.write(directory: base.appendingPathComponent("nope").path, to: tar("n.tar"))
        }
        #expect(e2?.description.contains("build context directory not found") == true)
        let e3 = #expect(throws: BuildContextError.self) {
            try BuildContext.write(directory: ctx, dockerfile: "../Dockerfile", to: tar("o.tar"))
        }
        #expect(e3?.description.contains("outside the build context") == true)
    }
}
