import ELF
import Foundation
import Testing
import TestSupport

@Suite struct ELFFileTests {
    static func hostFile(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    @Test func readsTheHostsLs() throws {
        let path = try #require(Self.hostFile(["/bin/ls", "/usr/bin/ls"]))
        let elf = try ELFFile(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(elf.elfClass == .elf64)
        #expect(elf.littleEndian)
        #expect(elf.isLoadable)
        #expect(elf.interpreter?.contains("ld-linux") == true)
        #expect(elf.needed.contains("libc.so.6"))
        let libc = try #require(elf.versionNeeds.first { $0.file == "libc.so.6" })
        #expect(libc.versions.contains { $0.hasPrefix("GLIBC_2.") })
    }

    @Test func readsTheHostsLibcDefinitions() throws {
        let path = try #require(Self.hostFile(["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                               "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]))
        let elf = try ELFFile(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(elf.soname == "libc.so.6")
        #expect(elf.type == .sharedObject)
        #expect(elf.versionDefinitions.contains("GLIBC_2.2.5") || elf.versionDefinitions.contains("GLIBC_2.17"))
        #expect(elf.versionDefinitions.contains("GLIBC_2.34"))
        #expect(!elf.versionDefinitions.contains("libc.so.6"), "the base entry is not a version")
        #expect(elf.needed.contains { $0.hasPrefix("ld-linux") })
    }

    static func sample(wide: Bool, little: Bool = true, sections: Bool = false) -> ELFWriter {
        var w = ELFWriter()
        w.wide = wide
        w.littleEndian = little
        w.machine = wide ? 62 : 3
        w.type = 3
        w.interpreter = "/lib/ld-linux.so.2"
        w.needed = ["libfoo.so.1", "libc.so.6"]
        w.soname = "libbar.so.2"
        w.rpath = "$ORIGIN/../lib:/opt/x"
        w.runpath = "${ORIGIN}/r"
        w.pie = true
        w.versionNeeds = [("libc.so.6", ["GLIBC_2.0", "GLIBC_2.99"]), ("libfoo.so.1", ["FOO_1"])]
        w.versionDefinitions = ["BAR_1", "BAR_2"]
        w.sections = sections
        return w
    }

    @Test(arguments: [(true, true, false), (false, true, false), (true, true, true), (false, true, true), (true, false, false),
                      (false, false, true)])
    func readsCraftedFiles(wide: Bool, little: Bool, sections: Bool) throws {
        let elf = try ELFFile(bytes: Self.sample(wide: wide, little: little, sections: sections).bytes())
        #expect(elf.elfClass == (wide ? .elf64 : .elf32))
        #expect(elf.littleEndian == little)
        #expect(elf.machine == (wide ? 62 : 3))
        #expect(elf.type == .sharedObject)
        #expect(elf.interpreter == "/lib/ld-linux.so.2")
        #expect(elf.needed == ["libfoo.so.1", "libc.so.6"])
        #expect(elf.soname == "libbar.so.2")
        #expect(elf.rpath == ["$ORIGIN/../lib", "/opt/x"])
        #expect(elf.runpath == ["${ORIGIN}/r"])
        #expect(elf.isPIE)
        #expect(elf.versionNeeds == [.init(file: "libc.so.6", versions: ["GLIBC_2.0", "GLIBC_2.99"]),
                                     .init(file: "libfoo.so.1", versions: ["FOO_1"])])
        #expect(elf.versionDefinitions == ["BAR_1", "BAR_2"])
    }

    @Test func staticBinaryHasNoDynamicInfo() throws {
        var w = ELFWriter()
        w.type = 2
        w.dynamic = false
        let elf = try ELFFile(bytes: w.bytes())
        #expect(elf.isStatic)
        #expect(!elf.isDynamic)
        #expect(elf.interpreter == nil)
        #expect(elf.type == .executable)
    }

    @Test func expandsOrigin() {
        #expect(ELFFile.expandOrigin("$ORIGIN/../lib", origin: "/opt/app/bin") == "/opt/app/bin/../lib")
        #expect(ELFFile.expandOrigin("${ORIGIN}/x", origin: "/a") == "/a/x")
        #expect(ELFFile.expandOrigin("/usr/lib", origin: "/a") == "/usr/lib")
    }

    @Test func glibcVersions() {
        #expect(ELFFile.glibcVersion("GLIBC_2.34") == [2, 34])
        #expect(ELFFile.glibcVersion("GLIBC_2.2.5") == [2, 2, 5])
        #expect(ELFFile.glibcVersion("GLIBC_PRIVATE") == nil)
        #expect(ELFFile.glibcVersion("GCC_3.0") == nil)
        #expect(ELFFile.compareVersions([2, 36], [2, 4]) == 1)
        #expect(ELFFile.compareVersions([2, 2, 5], [2, 2, 5]) == 0)
        #expect(ELFFile.compareVersions([2, 3], [2, 3, 4]) == -1)
    }

    // MARK: bad input

    @Test func notELF() {
        #expect(throws: ELFError.self) { try ELFFile(bytes: Array("#!/bin/sh\necho hi\n".utf8)) }
        do {
            _ = try ELFFile(bytes: [0x7f, 0x45])
            Issue.record("parsed two bytes")
        } catch {
            #expect(error.kind == .notELF)
            #expect(error.description.contains("not an ELF file"))
        }
    }

    @Test func unsupportedClass() {
        var b = Self.sample(wide: true).bytes()
        b[4] = 7
        do {
            _ = try ELFFile(bytes: b)
            Issue.record("accepted class 7")
        } catch {
            #expect(error.kind == .unsupported)
            #expect(error.description.contains("ELF class 7"))
        }
    }

    @Test func truncatedHeaderNamesTheProblem() {
        let b = Array(Self.sample(wide: true).bytes().prefix(40))
        do {
            _ = try ELFFile(bytes: b)
            Issue.record("accepted a cut header")
        } catch {
            #expect(error.kind == .truncated)
            #expect(error.description.contains("ELF header"), "\(error)")
        }
    }

    @Test func stringIndexOutsideTheTable() throws {
        var w = Self.sample(wide: true)
        w.versionNeeds = []
        w.versionDefinitions = []
        var b = w.bytes()
        // Point the first DT_NEEDED at a huge string index.
        let needle: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0]
        let at = try #require(Self.find(needle, in: b, from: 64))
        for i in 0..<8 { b[at + 8 + i] = 0x7f }
        do {
            _ = try ELFFile(bytes: b)
            Issue.record("accepted a bad string index")
        } catch {
            #expect(error.kind == .malformed)
            #expect(error.description.contains("DT_NEEDED"), "\(error)")
        }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in from...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    /// Every prefix and thousands of corrupted copies of real and crafted files: each parses or
    /// throws, none traps.
    @Test func neverCrashesOnDamagedInput() throws {
        var inputs: [[UInt8]] = [Self.sample(wide: true, sections: true).bytes(), Self.sample(wide: false).bytes(),
                                 Self.sample(wide: false, little: false, sections: true).bytes()]
        if let ls = Self.hostFile(["/bin/true", "/usr/bin/true"]) {
            // The first 16 KiB hold the headers and dynamic tables of a small binary.
            inputs.append(Array(try Data(contentsOf: URL(fileURLWithPath: ls)).prefix(16_384)))
        }
        var rng = SplitMix(seed: 42)
        var parsed = 0, failed = 0
        for input in inputs {
            for n in stride(from: 0, through: min(input.count, 2048), by: 1) {
                if (try? ELFFile(bytes: Array(input.prefix(n)))) != nil { parsed += 1 } else { failed += 1 }
            }
            for _ in 0..<1500 {
                var b = input
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(min(b.count, 1024)))
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                if (try? ELFFile(bytes: b)) != nil { parsed += 1 } else { failed += 1 }
            }
        }
        #expect(failed > 0)
        #expect(parsed > 0)
    }

    @Test func chainsThatRunOffTheEndAreErrors() throws {
        var w = ELFWriter()
        w.needed = ["libc.so.6"]
        w.versionNeeds = [("libc.so.6", ["GLIBC_2.0"])]
        var b = w.bytes()
        // Make vn_aux point far away: the reader must stop with an error, not loop or trap.
        let tag: [UInt8] = [0xfe, 0xff, 0xff, 0x6f, 0, 0, 0, 0]
        let at = try #require(Self.find(tag, in: b, from: 64))
        let verneed = Int(b[at + 8]) | Int(b[at + 9]) << 8
        b[verneed + 8] = 0xf0
        b[verneed + 9] = 0xff
        #expect(throws: ELFError.self) { try ELFFile(bytes: b) }
        // A vn_next past the count is not followed (the loader stops at DT_VERNEEDNUM too).
        var c = w.bytes()
        c[verneed + 12] = 0xf0
        #expect(try ELFFile(bytes: c).versionNeeds.count == 1)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
