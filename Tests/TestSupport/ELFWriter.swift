import Foundation

/// Writes small, valid ELF files for tests: an ELF header, a PT_LOAD mapping the whole file at
/// address 0, optional PT_INTERP, and a PT_DYNAMIC with NEEDED/SONAME/RPATH/RUNPATH and GNU
/// version needs and definitions (found through the dynamic tags; no section headers unless
/// `sections` is set, which adds `.dynamic`, `.dynstr`, `.gnu.version_r` and `.gnu.version_d`).
public struct ELFWriter: Sendable {
    public var wide = true
    public var littleEndian = true
    /// 2 executable, 3 shared object, 1 relocatable.
    public var type: UInt16 = 3
    public var machine: UInt16 = 62
    public var interpreter: String?
    /// No PT_DYNAMIC at all: a static binary.
    public var dynamic = true
    public var needed: [String] = []
    public var soname: String?
    public var rpath: String?
    public var runpath: String?
    public var pie = false
    /// (library, versions)
    public var versionNeeds: [(String, [String])] = []
    /// Versions defined; the base entry (the soname) is added first automatically.
    public var versionDefinitions: [String] = []
    public var sections = false

    public init() {}

    public func bytes() -> [UInt8] {
        var out = Bytes(little: littleEndian)
        let ehsize = wide ? 64 : 52
        let phentsize = wide ? 56 : 32
        let phnum = 1 + (interpreter == nil ? 0 : 1) + (dynamic ? 1 : 0)
        out.zeros(ehsize + phnum * phentsize)

        // Strings first, so every offset is known before the tables that use them.
        var strtab: [UInt8] = [0]
        var stringIndex: [String: Int] = [:]
        func str(_ s: String) -> Int {
            if let i = stringIndex[s] { return i }
            let i = strtab.count
            strtab += Array(s.utf8) + [0]
            stringIndex[s] = i
            return i
        }
        needed.forEach { _ = str($0) }
        if let soname { _ = str(soname) }
        if let rpath { _ = str(rpath) }
        if let runpath { _ = str(runpath) }
        for (file, versions) in versionNeeds {
            _ = str(file)
            versions.forEach { _ = str($0) }
        }
        let baseName = soname ?? "base"
        if !versionDefinitions.isEmpty {
            _ = str(baseName)
            versionDefinitions.forEach { _ = str($0) }
        }

        var interpOffset = 0
        if let interpreter {
            interpOffset = out.count
            out.append(Array(interpreter.utf8) + [0])
        }
        let strOffset = out.count
        out.append(strtab)
        out.align(8)

        let verneedOffset = out.count
        for (i, (file, versions)) in versionNeeds.enumerated() {
            let entry = out.count
            out.u16(1)
            out.u16(UInt16(versions.count))
            out.u32(UInt32(str(file)))
            out.u32(16)
            let size = 16 + 16 * versions.count
            out.u32(i == versionNeeds.count - 1 ? 0 : UInt32(size))
            for (j, v) in versions.enumerated() {
                out.u32(0)  // hash: the reader matches names
                out.u16(0)
                out.u16(UInt16(2 + j))
                out.u32(UInt32(str(v)))
                out.u32(j == versions.count - 1 ? 0 : 16)
            }
            precondition(out.count - entry == size)
        }
        let verdefOffset = out.count
        let defs = versionDefinitions.isEmpty ? [] : [baseName] + versionDefinitions
        for (i, name) in defs.enumerated() {
            out.u16(1)
            out.u16(i == 0 ? 1 : 0)
            out.u16(UInt16(i + 1))
            out.u16(1)
            out.u32(0)
            out.u32(20)
            out.u32(i == defs.count - 1 ? 0 : 28)
            out.u32(UInt32(str(name)))
            out.u32(0)
        }
        out.align(8)

        let dynOffset = out.count
        var tags: [(UInt64, UInt64)] = needed.map { (1, UInt64(str($0))) }
        if let soname { tags.append((14, UInt64(str(soname)))) }
        if let rpath { tags.append((15, UInt64(str(rpath)))) }
        if let runpath { tags.append((29, UInt64(str(runpath)))) }
        tags.append((5, UInt64(strOffset)))
        tags.append((10, UInt64(strtab.count)))
        if !versionNeeds.isEmpty {
            tags.append((0x6fff_fffe, UInt64(verneedOffset)))
            tags.append((0x6fff_ffff, UInt64(versionNeeds.count)))
        }
        if !defs.isEmpty {
            tags.append((0x6fff_fffc, UInt64(verdefOffset)))
            tags.append((0x6fff_fffd, UInt64(defs.count)))
        }
        if pie { tags.append((0x6fff_fffb, 0x0800_0000)) }
        tags.append((0, 0))
        if dynamic {
            for (t, v) in tags {
                out.word(t, wide: wide)
                out.word(v, wide: wide)
            }
        }
        let dynSize = out.count - dynOffset

        var shoff = 0
        var shnum = 0
        if sections {
            // null, .dynstr, .dynamic, .gnu.version_r, .gnu.version_d
            out.align(8)
            shoff = out.count
            let verneedSize = verdefOffset - verneedOffset
            let verdefSize = dynOffset - verdefOffset
            let list: [(UInt32, Int, Int, UInt32, UInt32)] = [
                (0, 0, 0, 0, 0),
                (3, strOffset, strtab.count, 0, 0),
                (6, dynOffset, dynSize, 1, 0),
                (0x6fff_fffe, verneedOffset, verneedSize, 1, UInt32(versionNeeds.count)),
                (0x6fff_fffd, verdefOffset, verdefSize, 1, UInt32(defs.count)),
            ]
            for (type, offset, size, link, info) in list {
                out.u32(0)
                out.u32(type)
                out.word(0, wide: wide)
                out.word(UInt64(offset), wide: wide)
                out.word(UInt64(offset), wide: wide)
                out.word(UInt64(size), wide: wide)
                out.u32(link)
                out.u32(info)
                out.word(8, wide: wide)
                out.word(0, wide: wide)
            }
            shnum = list.count
        }
        let total = out.count

        // ELF header.
        var h = Bytes(little: littleEndian)
        h.append([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, littleEndian ? 1 : 2, 1, 0])
        h.zeros(8)
        h.u16(type)
        h.u16(machine)
        h.u32(1)
        h.word(0, wide: wide)  // entry
        h.word(UInt64(ehsize), wide: wide)  // phoff
        h.word(UInt64(shoff), wide: wide)
        h.u32(0)
        h.u16(UInt16(ehsize))
        h.u16(UInt16(phentsize))
        h.u16(UInt16(phnum))
        h.u16(UInt16(wide ? 64 : 40))
        h.u16(UInt16(shnum))
        h.u16(0)
        // Program headers.
        func phdr(_ type: UInt32, _ offset: Int, _ size: Int) {
            if wide {
                h.u32(type); h.u32(4)
                h.word(UInt64(offset), wide: true); h.word(UInt64(offset), wide: true); h.word(UInt64(offset), wide: true)
                h.word(UInt64(size), wide: true); h.word(UInt64(size), wide: true); h.word(8, wide: true)
            } else {
                h.u32(type); h.u32(UInt32(offset)); h.u32(UInt32(offset)); h.u32(UInt32(offset))
                h.u32(UInt32(size)); h.u32(UInt32(size)); h.u32(4); h.u32(8)
            }
        }
        phdr(1, 0, total)
        if let interpreter { phdr(3, interpOffset, interpreter.utf8.count + 1) }
        if dynamic { phdr(2, dynOffset, dynSize) }
        precondition(h.data.count == ehsize + phnum * phentsize)
        var result = out.data
        result.replaceSubrange(0..<h.data.count, with: h.data)
        return result
    }

    struct Bytes {
        let little: Bool
        var data: [UInt8] = []
        var count: Int { data.count }
        mutating func append(_ b: [UInt8]) { data += b }
        mutating func zeros(_ n: Int) { data += [UInt8](repeating: 0, count: n) }
        mutating func align(_ n: Int) { while data.count % n != 0 { data.append(0) } }
        mutating func u16(_ v: UInt16) { put(UInt64(v), 2) }
        mutating func u32(_ v: UInt32) { put(UInt64(v), 4) }
        mutating func word(_ v: UInt64, wide: Bool) { put(v, wide ? 8 : 4) }
        mutating func put(_ v: UInt64, _ n: Int) {
            for i in 0..<n {
                let shift = little ? i * 8 : (n - 1 - i) * 8
                data.append(UInt8(truncatingIfNeeded: v >> UInt64(shift)))
            }
        }
    }
}
