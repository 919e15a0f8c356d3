import Build
import ELF
import Engine
import Foundation
import Testing
import TestSupport

/// Writes ustar archives for tests.
struct TarWriter {
    enum Entry {
        case file(String, [UInt8])
        case dir(String)
        case symlink(String, String)
        case hardlink(String, String)
        /// A file whose name goes in a PAX `path` record.
        case paxFile(String, [UInt8])
        /// A file whose name goes in a GNU `././@LongLink` entry.
        case gnuLongFile(String, [UInt8])
        /// A file of `size` zero bytes after `prefix`, written without building it in memory twice.
        case bigFile(String, prefix: [UInt8], size: Int)
    }

    static func header(_ name: String, type: UInt8, size: Int, link: String = "") -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ at: Int, _ len: Int) {
            let b = Array(s.utf8)
            precondition(b.count <= len, "\(s) too long for a test tar")
            for (i, c) in b.enumerated() { h[at + i] = c }
        }
        func octal(_ v: Int, _ at: Int, _ len: Int) {
            let digits = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, len - 1 - digits.count)) + digits, at, len - 1)
        }
        var name = name
        if name.utf8.count > 100, let slash = name.prefix(155).lastIndex(of: "/") {
            put(String(name[..<slash]), 345, 155)
            name = String(name[name.index(after: slash)...])
        }
        put(name, 0, 100)
        octal(type == UInt8(ascii: "5") ? 0o755 : 0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(0, 136, 12)
        h[156] = type
        put(link, 157, 100)
        put("ustar", 257, 6)
        put("00", 263, 2)
        for i in 148..<156 { h[i] = 32 }
        let sum = h.reduce(0) { $0 + Int($1) }
        octal(sum, 148, 7)
        return h
    }

    static func archive(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        func content(_ data: [UInt8]) {
            out += data
            out += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
        for e in entries {
            switch e {
            case .file(let name, let data):
                out += header(name, type: UInt8(ascii: "0"), size: data.count)
                content(data)
            case .paxFile(let name, let data):
                let body = " path=\(name)\n"
                var length = body.utf8.count + 2
                while String(length).count + body.utf8.count != length { length += 1 }
                let record = Array("\(length)\(body)".utf8)
                out += header("PaxHeaders/x", type: UInt8(ascii: "x"), size: record.count)
                content(record)
                out += header(String(name.suffix(90)), type: UInt8(ascii: "0"), size: data.count)
                content(data)
            case .gnuLongFile(let name, let data):
                let record = Array(name.utf8) + [0]
                out += header("././@LongLink", type: UInt8(ascii: "L"), size: record.count)
                content(record)
                out += header(String(name.suffix(90)), type: UInt8(ascii: "0"), size: data.count)
                content(data)
            case .bigFile(let name, let prefix, let size):
                out += header(name, type: UInt8(ascii: "0"), size: size)
                out += prefix
                out += [UInt8](repeating: 0, count: size - prefix.count + (512 - size % 512) % 512)
            case .dir(let name): out += header(name + "/", type: UInt8(ascii: "5"), size: 0)
            case .symlink(let name, let target): out += header(name, type: UInt8(ascii: "2"), size: 0, link: target)
            case .hardlink(let name, let target): out += header(name, type: UInt8(ascii: "1"), size: 0, link: target)
            }
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    /// A `docker save` archive of one image made of `layers`, with Env and history.
    static func saveArchive(layers: [[Entry]], env: [String] = [], history: [String]? = nil) -> [UInt8] {
        var top: [Entry] = []
        var layerPaths: [String] = []
        var diffIDs: [String] = []
        for (i, layer) in layers.enumerated() {
            let id = String(repeating: String(i), count: 64)
            top.append(.dir(id))
            top.append(.file(id + "/VERSION", Array("1.0".utf8)))
            top.append(.file(id + "/layer.tar", archive(layer)))
            layerPaths.append(id + "/layer.tar")
            diffIDs.append("sha256:" + String(repeating: "d\(i)", count: 32))
        }
        let steps = history ?? layers.indices.map { "/bin/sh -c #(nop) COPY step \($0)" }
        let historyJSON = steps.map { "{\"created_by\":\(json($0))}" }.joined(separator: ",")
        let config = """
            {"architecture":"amd64","os":"linux","config":{"Env":[\(env.map(json).joined(separator: ","))]},\
            "rootfs":{"type":"layers","diff_ids":[\(diffIDs.map(json).joined(separator: ","))]},\
            "history":[{"created_by":"/bin/sh -c #(nop)  ENV X=1","empty_layer":true},\(historyJSON)]}
            """
        let configName = String(repeating: "c", count: 64) + ".json"
        top.append(.file(configName, Array(config.utf8)))
        let manifest = "[{\"Config\":\(json(configName)),\"RepoTags\":[\"t:latest\"],\"Layers\":[\(layerPaths.map(json).joined(separator: ","))]}]"
        top.append(.file("manifest.json", Array(manifest.utf8)))
        return archive(top)
    }

    static func json(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }
}

/// ELF files for crafted images.
enum Fixture {
    static let loader = "/lib64/ld-linux-x86-64.so.2"

    static func exe(needs: [String] = ["libc.so.6"], interp: String? = loader, versions: [(String, [String])] = [],
                    rpath: String? = nil, runpath: String? = nil, wide: Bool = true) -> [UInt8] {
        var w = ELFWriter()
        w.type = 3
        w.pie = true
        w.wide = wide
        w.machine = wide ? 62 : 3
        w.interpreter = interp
        w.needed = needs
        w.versionNeeds = versions
        w.rpath = rpath
        w.runpath = runpath
        return w.bytes()
    }

    static func lib(_ soname: String, needs: [String] = [], defines: [String] = [], wide: Bool = true) -> [UInt8] {
        var w = ELFWriter()
        w.type = 3
        w.wide = wide
        w.machine = wide ? 62 : 3
        w.soname = soname
        w.needed = needs
        w.versionDefinitions = defines
        return w.bytes()
    }

    static func staticExe() -> [UInt8] {
        var w = ELFWriter()
        w.type = 2
        w.dynamic = false
        return w.bytes()
    }

    /// A minimal glibc: loader plus libc.so.6 defining GLIBC_2.2.5 … 2.36.
    static var glibcLayer: [TarWriter.Entry] {
        [
            .dir("lib"), .dir("lib/x86_64-linux-gnu"), .dir("lib64"),
            .file("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", lib("ld-linux-x86-64.so.2", defines: ["GLIBC_2.2.5", "GLIBC_PRIVATE"])),
            .symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            .file("lib/x86_64-linux-gnu/libc.so.6",
                  lib("libc.so.6", needs: ["ld-linux-x86-64.so.2"], defines: ["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.36"])),
        ]
    }
}

@Suite struct AuditArchiveTests {
    static let auditor = ImageAuditor(engine: TestProject.engine, logger: TestProject.logger)

    static func audit(_ bytes: [UInt8]) async throws -> AuditReport {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("audit") + ".tar")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try await auditor.audit(archiveFile: url.path, name: "test-image")
    }

    @Test func cleanImageWithStaticAndDynamicBinaries() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer,
            [.dir("bin"), .file("bin/app", Fixture.exe(versions: [("libc.so.6", ["GLIBC_2.34"])])),
             .file("bin/static", Fixture.staticExe()), .file("bin/script", Array("#!/bin/sh\necho hi\n".utf8))],
        ]))
        #expect(r.findings.isEmpty, "\(r.findings)")
        #expect(r.libc == "glibc")
        #expect(r.glibcVersion == "2.36")
        #expect(r.highestGlibcNeeded == "2.34")
        #expect(r.elfCount == 4)
        #expect(r.staticCount == 1)
        #expect(r.filesChecked == 5)
        #expect(r.layers.count == 2)
        #expect(r.layers[1].createdBy == "/bin/sh -c #(nop) COPY step 1")
        #expect(r.layers[1].diffID?.hasPrefix("sha256:d1") == true)
    }

    @Test func missingInterpreterInAnImageWithoutLibc() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            [.dir("bin"), .file("bin/busybox", Fixture.staticExe())],
            [.dir("usr"), .dir("usr/local"), .dir("usr/local/bin"), .file("usr/local/bin/ls", Fixture.exe())],
        ], history: ["/bin/sh -c #(nop) ADD file:abc in /", "/bin/sh -c #(nop) COPY file:123 in /usr/local/bin/ls"]))
        let f = try #require(r.findings.first)
        #expect(r.findings.count == 1)
        #expect(f.kind == .missingInterpreter)
        #expect(f.path == "/usr/local/bin/ls")
        #expect(f.missing == Fixture.loader)
        #expect(f.message.contains("no libc at all"))
        #expect(f.layer?.index == 1)
        #expect(f.layer?.createdBy?.contains("COPY file:123") == true)
        #expect(r.text().contains("from layer 1 (sha256:d1d1d1d1d1d1): COPY file:123 in /usr/local/bin/ls"), "\(r.text())")
        #expect(r.libc == "none")
    }

    @Test func missingLibraryAndWhiteout() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .file("lib/x86_64-linux-gnu/libfoo.so.1", Fixture.lib("libfoo.so.1", needs: ["libc.so.6"])),
                .dir("bin"), .file("bin/app", Fixture.exe(needs: ["libfoo.so.1", "libc.so.6"])),
            ],
            // The next layer deletes libfoo: the whiteout must hide it.
            [.dir("lib"), .dir("lib/x86_64-linux-gnu"), .file("lib/x86_64-linux-gnu/.wh.libfoo.so.1", [])],
        ]))
        #expect(r.findings.map(\.kind) == [.missingLibrary])
        let f = try #require(r.findings.first)
        #expect(f.path == "/bin/app")
        #expect(f.missing == "libfoo.so.1")
        #expect(f.message.contains("/lib/x86_64-linux-gnu"))
        #expect(f.layer?.index == 0)
    }

    @Test func opaqueDirectoryHidesLowerFiles() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .dir("opt"), .dir("opt/lib"), .file("opt/lib/libfoo.so.1", Fixture.lib("libfoo.so.1")),
                .dir("bin"), .file("bin/app", Fixture.exe(needs: ["libfoo.so.1"], runpath: "/opt/lib")),
            ],
            [.dir("opt"), .dir("opt/lib"), .file("opt/lib/.wh..wh..opq", []), .file("opt/lib/other.txt", Array("x".utf8))],
        ]))
        #expect(r.findings.map(\.missing) == ["libfoo.so.1"])
    }

    @Test func symlinksResolveInsideTheImageOnly() async throws {
        // The host has /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; the image does not. An
        // absolute symlink to it must be resolved inside the image, and so be missing.
        let r = try await Self.audit(TarWriter.saveArchive(layers: [[
            .dir("lib64"), .symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            .dir("lib"), .symlink("lib/escape", "../../../../../../lib"),
            .dir("bin"), .file("bin/app", Fixture.exe(needs: [])),
            .file("bin/app2", Fixture.exe(needs: [], interp: "/lib/escape/x86_64-linux-gnu/ld-linux-x86-64.so.2")),
        ]]))
        #expect(r.findings.map(\.kind) == [.missingInterpreter, .missingInterpreter])
        #expect(r.findings.map(\.path) == ["/bin/app", "/bin/app2"])
    }

    @Test func relativeAndChainedSymlinks() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .dir("usr"), .dir("usr/lib"), .dir("usr/lib/real"),
                .file("usr/lib/real/libfoo.so.1.2.3", Fixture.lib("libfoo.so.1")),
                .symlink("usr/lib/libfoo.so.1", "libfoo.so.1.2"),
                .symlink("usr/lib/libfoo.so.1.2", "../lib/./real/libfoo.so.1.2.3"),
                .symlink("usr/lib/loop.so", "loop.so"),
                .dir("bin"), .file("bin/app", Fixture.exe(needs: ["libfoo.so.1", "loop.so", "libc.so.6"])),
            ],
        ]))
        #expect(r.findings.map(\.missing) == ["loop.so"])
    }

    @Test func originRpathLdLibraryPathAndLdSoConf() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .dir("opt"), .dir("opt/app"), .dir("opt/app/bin"), .dir("opt/app/lib"),
                .file("opt/app/lib/liba.so", Fixture.lib("liba.so")),
                .file("opt/app/bin/a", Fixture.exe(needs: ["liba.so"], rpath: "$ORIGIN/../lib")),
                .file("opt/app/bin/b", Fixture.exe(needs: ["liba.so"], runpath: "${ORIGIN}/../lib")),
                .dir("env"), .file("env/libenv.so", Fixture.lib("libenv.so")),
                .file("opt/app/bin/c", Fixture.exe(needs: ["libenv.so"])),
                .dir("conf"), .file("conf/libconf.so", Fixture.lib("libconf.so")),
                .file("opt/app/bin/d", Fixture.exe(needs: ["libconf.so"])),
                .dir("etc"), .dir("etc/ld.so.conf.d"),
                .file("etc/ld.so.conf", Array("# comment\ninclude /etc/ld.so.conf.d/*.conf\n".utf8)),
                .file("etc/ld.so.conf.d/x.conf", Array("/conf\n".utf8)),
                .file("etc/ld.so.conf.d/x.conf.disabled", Array("/nowhere\n".utf8)),
                // RPATH is ignored when RUNPATH is present.
                .file("opt/app/bin/e", Fixture.exe(needs: ["liba.so"], rpath: "/opt/app/lib", runpath: "/nowhere")),
            ],
        ], env: ["PATH=/bin", "LD_LIBRARY_PATH=/env"]))
        #expect(r.findings.map(\.path) == ["/opt/app/bin/e"], "\(r.findings)")
    }

    @Test func rpathOfTheLoadingExecutableIsInheritedRunpathIsNot() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .dir("opt"), .dir("opt/a"), .dir("opt/a/bin"), .dir("opt/a/lib"),
                .file("opt/a/lib/liba.so", Fixture.lib("liba.so", needs: ["libb.so"])),
                .file("opt/a/lib/libb.so", Fixture.lib("libb.so")),
                .file("opt/a/bin/app", Fixture.exe(needs: ["liba.so"], rpath: "$ORIGIN/../lib")),
                .dir("opt/r"), .dir("opt/r/bin"), .dir("opt/r/lib"),
                .file("opt/r/lib/libra.so", Fixture.lib("libra.so", needs: ["librb.so"])),
                .file("opt/r/lib/librb.so", Fixture.lib("librb.so")),
                .file("opt/r/bin/app", Fixture.exe(needs: ["libra.so"], runpath: "$ORIGIN/../lib")),
            ],
        ]))
        #expect(r.findings.map(\.path) == ["/opt/r/lib/libra.so"], "\(r.findings)")
        #expect(r.findings.first?.missing == "librb.so")
    }

    @Test func longNamesFromPaxAndGNURecords() async throws {
        let deep = "opt/" + String(repeating: "very-long-directory-name/", count: 8)
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                .paxFile(deep + "pax-app", Fixture.exe(needs: ["libpax.so"])),
                .gnuLongFile(deep + "gnu-app", Fixture.exe(needs: ["libgnu.so"])),
            ],
        ]))
        #expect(r.findings.map(\.path) == ["/" + deep + "gnu-app", "/" + deep + "pax-app"])
        #expect(r.findings.map(\.missing) == ["libgnu.so", "libpax.so"])
    }

    /// ELF files over 64 MiB are spooled to disk while read, and the spool is removed.
    @Test func largeELFIsSpooledAndCleanedUp() async throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("audit-spool"))
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let bytes = TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [.dir("bin"), .bigFile("bin/big", prefix: Fixture.exe(needs: ["libbig.so"]), size: 65 << 20)],
        ])
        let url = tmp.appendingPathComponent("image.tar")
        try Data(bytes).write(to: url)
        let auditor = ImageAuditor(engine: TestProject.engine, logger: TestProject.logger, temporaryDirectory: tmp.path)
        let r = try await auditor.audit(archiveFile: url.path, name: "big")
        #expect(r.findings.map(\.missing) == ["libbig.so"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["image.tar"])
    }

    @Test func newerGlibcNeededThanTheImageHas() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer,
            [.dir("bin"), .file("bin/new", Fixture.exe(versions: [("libc.so.6", ["GLIBC_2.2.5", "GLIBC_2.99"])]))],
        ]))
        let f = try #require(r.findings.first)
        #expect(r.findings.count == 1)
        #expect(f.kind == .missingVersion)
        #expect(f.missing == "libc.so.6 GLIBC_2.99")
        #expect(f.message.contains("the image's glibc is 2.36"), "\(f.message)")
        #expect(r.highestGlibcNeeded == "2.99")
        #expect(r.glibcVersion == "2.36")
    }

    @Test func glibcBinaryInAMuslImage() async throws {
        var muslExe = ELFWriter()
        muslExe.interpreter = "/lib/ld-musl-x86_64.so.1"
        muslExe.needed = ["libc.musl-x86_64.so.1", "libz.so.1"]
        muslExe.pie = true
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            [.dir("lib"), .file("lib/ld-musl-x86_64.so.1", Fixture.lib("libc.musl-x86_64.so.1")),
             .symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
             .dir("usr"), .dir("usr/lib"), .file("usr/lib/libz.so.1", Fixture.lib("libz.so.1", needs: ["libc.so"])),
             .dir("bin"), .file("bin/musl-app", muslExe.bytes()), .file("bin/glibc-app", Fixture.exe())],
        ]))
        #expect(r.libc == "musl")
        #expect(r.findings.map(\.kind) == [.libcMismatch], "\(r.findings)")
        #expect(r.findings.first?.path == "/bin/glibc-app")
        #expect(r.findings.first?.message.contains("glibc binary in a musl image") == true)
    }

    @Test func muslBinaryInAGlibcImage() async throws {
        var muslExe = ELFWriter()
        muslExe.interpreter = "/lib/ld-musl-x86_64.so.1"
        muslExe.needed = ["libc.musl-x86_64.so.1"]
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [.dir("bin"), .file("bin/musl-app", muslExe.bytes())],
        ]))
        #expect(r.findings.map(\.kind) == [.libcMismatch])
        #expect(r.findings.first?.message.contains("musl binary in a glibc image") == true)
    }

    @Test func wrongClassLibrariesAreSkipped() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [
                // A 32-bit libfoo first in the search order, the right one later.
                .file("lib/x86_64-linux-gnu/libfoo.so.1", Fixture.lib("libfoo.so.1", wide: false)),
                .dir("usr"), .dir("usr/lib"), .file("usr/lib/libfoo.so.1", Fixture.lib("libfoo.so.1")),
                .file("lib/x86_64-linux-gnu/libbar.so.1", Fixture.lib("libbar.so.1", wide: false)),
                .dir("bin"), .file("bin/app", Fixture.exe(needs: ["libfoo.so.1", "libbar.so.1", "libc.so.6"])),
            ],
        ]))
        #expect(r.findings.map(\.missing) == ["libbar.so.1"])
    }

    @Test func hardLinksShareTheirTargetsFacts() async throws {
        let r = try await Self.audit(TarWriter.saveArchive(layers: [
            Fixture.glibcLayer + [.dir("bin"), .file("bin/a", Fixture.exe(needs: ["libnone.so"])), .hardlink("bin/b", "bin/a")],
        ]))
        #expect(r.findings.map(\.path) == ["/bin/a", "/bin/b"])
    }

    @Test func damagedELFIsNotedNotFatal() async throws {
        var bad = Fixture.exe()
        bad[4] = 9
        let r = try await Self.audit(TarWriter.saveArchive(layers: [[.dir("bin"), .file("bin/bad", bad)]]))
        #expect(r.findings.isEmpty)
        #expect(r.unreadable.map(\.path) == ["/bin/bad"])
        #expect(r.unreadable.first?.reason.contains("ELF class 9") == true)
    }

    @Test func truncatedArchiveIsAClearError() async throws {
        let bytes = TarWriter.saveArchive(layers: [Fixture.glibcLayer])
        do {
            _ = try await Self.audit(Array(bytes.prefix(bytes.count / 2)))
            Issue.record("a cut archive was accepted")
        } catch let error as BuildError {
            #expect(error.kind == .audit)
            #expect(error.description.contains("cut short") || error.description.contains("manifest"), "\(error)")
        }
    }

    @Test func garbageIsAClearError() async throws {
        do {
            _ = try await Self.audit(Array(repeating: 0x41, count: 4096))
            Issue.record("garbage was accepted")
        } catch let error as BuildError {
            #expect(error.kind == .audit)
            #expect(error.description.contains("not a tar archive"), "\(error)")
        }
    }
}
