import FoundationEssentials
import Glibc

/// What the dynamic loader needs to know about an ELF file: its kind, interpreter, the
/// libraries it needs and where it looks for them, and the symbol versions it needs and
/// provides. Reads 32- and 64-bit files of either byte order; every read is bounds-checked, so
/// damaged or hostile input gives an `ELFError`, never a crash.
public struct ELFFile: Sendable, Hashable, Codable {
    public enum Class: String, Sendable, Hashable, Codable { case elf32, elf64 }

    public enum FileType: Sendable, Hashable, Codable {
        case relocatable, executable, sharedObject, core
        case other(UInt16)
    }

    /// Symbol versions needed from one library (`.gnu.version_r`): e.g. `libc.so.6` needs
    /// `GLIBC_2.34`.
    public struct VersionNeed: Sendable, Hashable, Codable {
        public var file: String
        public var versions: [String]
        public init(file: String, versions: [String]) {
            self.file = file
            self.versions = versions
        }
    }

    public var elfClass: Class
    public var littleEndian: Bool
    public var type: FileType
    /// `e_machine` (62 x86-64, 3 i386, 183 AArch64, 40 ARM …).
    public var machine: UInt16
    /// `PT_INTERP`: the program interpreter (dynamic loader) path.
    public var interpreter: String?
    /// Has a `PT_DYNAMIC` segment.
    public var isDynamic: Bool
    /// `DT_NEEDED`, in order.
    public var needed: [String]
    public var soname: String?
    /// `DT_RPATH` entries, unexpanded (`$ORIGIN` kept).
    public var rpath: [String]
    /// `DT_RUNPATH` entries, unexpanded.
    public var runpath: [String]
    /// `DF_1_PIE` in `DT_FLAGS_1`: a position-independent executable.
    public var isPIE: Bool
    public var versionNeeds: [VersionNeed]
    /// Versions this file defines (`.gnu.version_d`), without the base entry (the file's own name).
    public var versionDefinitions: [String]

    /// Executables and shared objects; not object files or core dumps.
    public var isLoadable: Bool { type == .executable || type == .sharedObject }
    /// A program that needs no loader and no libraries (static, or static-pie); a library
    /// without dependencies is not counted.
    public var isStatic: Bool { interpreter == nil && needed.isEmpty && (type == .executable || isPIE) }

    /// The machine's common name, for messages.
    public var machineName: String { Self.machineName(machine) }

    public static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: "i386"
        case 8: "mips"
        case 20: "ppc"
        case 21: "ppc64"
        case 22: "s390"
        case 40: "arm"
        case 62: "x86-64"
        case 183: "aarch64"
        case 243: "riscv"
        default: "machine \(machine)"
        }
    }

    // MARK: detection

    /// The four magic bytes every ELF file starts with.
    public static let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]

    /// True when `prefix` starts with the ELF magic.
    public static func hasMagic(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 4 && prefix[0] == 0x7f && prefix[1] == 0x45 && prefix[2] == 0x4c && prefix[3] == 0x46
    }

    /// A description with no interpreter, libraries or versions; set the rest by hand.
    public init(elfClass: Class, littleEndian: Bool, type: FileType, machine: UInt16) {
        self.elfClass = elfClass
        self.littleEndian = littleEndian
        self.type = type
        self.machine = machine
        interpreter = nil
        isDynamic = false
        needed = []
        soname = nil
        rpath = []
        runpath = []
        isPIE = false
        versionNeeds = []
        versionDefinitions = []
    }

    // MARK: parsing

    public init(bytes: [UInt8]) throws(ELFError) {
        let r: Result<ELFFile, ELFError> = bytes.withUnsafeBytes { buffer in
            do throws(ELFError) { return .success(try ELFFile(parsing: buffer)) } catch { return .failure(error) }
        }
        self = try r.get()
    }

    public init(data: Data) throws(ELFError) {
        let r: Result<ELFFile, ELFError> = data.withUnsafeBytes { buffer in
            do throws(ELFError) { return .success(try ELFFile(parsing: buffer)) } catch { return .failure(error) }
        }
        self = try r.get()
    }

    /// Parses the file in `buffer` (the whole file: tables may be anywhere in it).
    public init(parsing buffer: UnsafeRawBufferPointer) throws(ELFError) {
        guard Self.hasMagic(buffer) else {
            throw ELFError(.notELF, buffer.count < 4 ? "only \(buffer.count) bytes" : "no \\x7fELF magic at the start")
        }
        guard buffer.count >= 16 else { throw ELFError(.truncated, "the 16-byte identification is cut short", offset: 0) }
        let wide: Bool
        switch buffer[4] {
        case 1: wide = false
        case 2: wide = true
        default: throw ELFError(.unsupported, "ELF class \(buffer[4]) (expected 1 for 32-bit or 2 for 64-bit)", offset: 4)
        }
        let little: Bool
        switch buffer[5] {
        case 1: little = true
        case 2: little = false
        default: throw ELFError(.unsupported, "byte order \(buffer[5]) (expected 1 little or 2 big endian)", offset: 5)
        }
        guard buffer[6] == 1 else { throw ELFError(.unsupported, "ELF version \(buffer[6])", offset: 6) }
        var parser = Parser(reader: ByteReader(bytes: buffer, littleEndian: little), wide: wide)
        self = try parser.parse()
    }
}

// MARK: - the parser

private let PT_LOAD: UInt32 = 1
private let PT_DYNAMIC: UInt32 = 2
private let PT_INTERP: UInt32 = 3

private let SHT_DYNAMIC: UInt32 = 6
private let SHT_GNU_verdef: UInt32 = 0x6fff_fffd
private let SHT_GNU_verneed: UInt32 = 0x6fff_fffe

private let DT_NULL: UInt64 = 0
private let DT_NEEDED: UInt64 = 1
private let DT_STRTAB: UInt64 = 5
private let DT_STRSZ: UInt64 = 10
private let DT_SONAME: UInt64 = 14
private let DT_RPATH: UInt64 = 15
private let DT_RUNPATH: UInt64 = 29
private let DT_FLAGS_1: UInt64 = 0x6fff_fffb
private let DT_VERDEF: UInt64 = 0x6fff_fffc
private let DT_VERDEFNUM: UInt64 = 0x6fff_fffd
private let DT_VERNEED: UInt64 = 0x6fff_fffe
private let DT_VERNEEDNUM: UInt64 = 0x6fff_ffff
private let DF_1_PIE: UInt64 = 0x0800_0000

/// Chains longer than this are treated as damaged: no real library has thousands of versions.
private let maxChain = 65_536

private struct Segment {
    var type: UInt32
    var offset: UInt64
    var vaddr: UInt64
    var filesz: UInt64
}

private struct Section {
    var type: UInt32
    var offset: UInt64
    var size: UInt64
    var link: UInt32
    var info: UInt32
}

/// A string table: strings are read only inside `[offset, offset + size)`.
private struct StringTable {
    var offset: UInt64
    var size: UInt64
}

private struct Parser {
    let reader: ByteReader
    let wide: Bool

    init(reader: ByteReader, wide: Bool) {
        self.reader = reader
        self.wide = wide
    }

    mutating func parse() throws(ELFError) -> ELFFile {
        let r = reader
        try r.check(0, wide ? 64 : 52, "the ELF header")
        let rawType = try r.u16(16)
        let type: ELFFile.FileType = switch rawType {
        case 1: .relocatable
        case 2: .executable
        case 3: .sharedObject
        case 4: .core
        default: .other(rawType)
        }
        let machine = try r.u16(18)
        let phoff = try r.word(wide ? 32 : 28, wide: wide)
        let shoff = try r.word(wide ? 40 : 32, wide: wide)
        let phentsize = UInt64(try r.u16(wide ? 54 : 42))
        var phnum = UInt64(try r.u16(wide ? 56 : 44))
        let shentsize = UInt64(try r.u16(wide ? 58 : 46))
        var shnum = UInt64(try r.u16(wide ? 60 : 48))

        var file = ELFFile(elfClass: wide ? .elf64 : .elf32, littleEndian: r.littleEndian, type: type, machine: machine)
        // Object files and core dumps are never loaded by ld.so; their tables do not matter here.
        guard file.isLoadable else { return file }

        // Section headers are optional for loading (sstrip removes them), so a damaged section
        // table is ignored rather than fatal; the dynamic segment carries the same facts.
        let minShent: UInt64 = wide ? 64 : 40
        if shoff != 0, shentsize >= minShent, r.contains(shoff, minShent) {
            // Extended numbering: counts that do not fit 16 bits live in section 0.
            if shnum == 0 { shnum = wide ? (try r.u64(shoff + 32)) : UInt64(try r.u32(shoff + 20)) }
            if phnum == 0xffff { phnum = UInt64(try r.u32(shoff + (wide ? 44 : 28))) }
        }
        let sections = shoff == 0 ? [] : ((try? readSections(shoff, shentsize, shnum)) ?? [])

        let segments = try readSegments(phoff, phentsize, phnum)

        for s in segments where s.type == PT_INTERP {
            try r.check(s.offset, s.filesz, "the PT_INTERP string")
            guard s.filesz > 0 else { throw ELFError(.malformed, "empty PT_INTERP", offset: s.offset) }
            file.interpreter = try r.cString(s.offset, end: s.offset + s.filesz, "the interpreter path")
        }

        guard let dynamicSegment = segments.first(where: { $0.type == PT_DYNAMIC }) else { return file }
        file.isDynamic = true
        let dynamic = try readDynamic(dynamicSegment)
        func tag(_ t: UInt64) -> UInt64? { dynamic.first { $0.0 == t }?.1 }

        // The dynamic string table: the SHT_DYNAMIC section's link when sections exist, else
        // DT_STRTAB mapped from its address through the PT_LOAD segments.
        var strings: StringTable?
        if let dynSection = sections.first(where: { $0.type == SHT_DYNAMIC }), Int(dynSection.link) < sections.count {
            let s = sections[Int(dynSection.link)]
            strings = StringTable(offset: s.offset, size: s.size)
        } else if let address = tag(DT_STRTAB) {
            guard let offset = fileOffset(address, segments) else {
                throw ELFError(.malformed, "DT_STRTAB address 0x\(String(address, radix: 16)) is in no PT_LOAD segment")
            }
            let size = tag(DT_STRSZ) ?? (r.count > offset ? r.count - offset : 0)
            strings = StringTable(offset: offset, size: size)
        }
        let dynamicStrings = dynamic.contains { [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH].contains($0.0) }
        guard let strtab = strings else {
            if dynamicStrings { throw ELFError(.malformed, "a dynamic segment names libraries but has no string table") }
            return file
        }
        try r.check(strtab.offset, strtab.size, "the dynamic string table")

        func string(_ index: UInt64, _ what: String) throws(ELFError) -> String {
            guard index < strtab.size else {
                throw ELFError(.malformed, "\(what): string index \(index) outside the string table (\(strtab.size) bytes)",
                               offset: strtab.offset)
            }
            return try r.cString(strtab.offset + index, end: strtab.offset + strtab.size, what)
        }

        for (t, v) in dynamic {
            switch t {
            case DT_NEEDED: file.needed.append(try string(v, "DT_NEEDED"))
            case DT_SONAME: file.soname = try string(v, "DT_SONAME")
            case DT_RPATH: file.rpath += Self.splitPath(try string(v, "DT_RPATH"))
            case DT_RUNPATH: file.runpath += Self.splitPath(try string(v, "DT_RUNPATH"))
            case DT_FLAGS_1: file.isPIE = file.isPIE || (v & DF_1_PIE) != 0
            default: break
            }
        }

        // Version tables: sections when present (their own string table via sh_link), else the
        // dynamic tags.
        if let s = sections.first(where: { $0.type == SHT_GNU_verneed }) {
            file.versionNeeds = try readVersionNeeds(at: s.offset, size: s.size, count: UInt64(s.info),
                                                     strings: try linkedStrings(s, sections) ?? strtab)
        } else if let address = tag(DT_VERNEED), let offset = fileOffset(address, segments) {
            let end = r.count
            file.versionNeeds = try readVersionNeeds(at: offset, size: end - min(end, offset), count: tag(DT_VERNEEDNUM) ?? 0,
                                                     strings: strtab)
        }
        if let s = sections.first(where: { $0.type == SHT_GNU_verdef }) {
            file.versionDefinitions = try readVersionDefinitions(at: s.offset, size: s.size, count: UInt64(s.info),
                                                                 strings: try linkedStrings(s, sections) ?? strtab)
        } else if let address = tag(DT_VERDEF), let offset = fileOffset(address, segments) {
            let end = r.count
            file.versionDefinitions = try readVersionDefinitions(
                at: offset, size: end - min(end, offset), count: tag(DT_VERDEFNUM) ?? 0, strings: strtab)
        }
        return file
    }

    static func splitPath(_ s: String) -> [String] {
        s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }

    func readSegments(_ phoff: UInt64, _ phentsize: UInt64, _ phnum: UInt64) throws(ELFError) -> [Segment] {
        guard phnum > 0 else { return [] }
        let minimum: UInt64 = wide ? 56 : 32
        guard phentsize >= minimum else {
            throw ELFError(.malformed, "program header entries of \(phentsize) bytes (need at least \(minimum))")
        }
        let total = try mul(phentsize, phnum, "the program header table size")
        try reader.check(phoff, total, "the program header table (\(phnum) entries)")
        var out: [Segment] = []
        out.reserveCapacity(Int(phnum))
        for i in 0..<phnum {
            let at = phoff + i * phentsize
            if wide {
                out.append(Segment(type: try reader.u32(at), offset: try reader.u64(at + 8), vaddr: try reader.u64(at + 16),
                                   filesz: try reader.u64(at + 32)))
            } else {
                out.append(Segment(type: try reader.u32(at), offset: UInt64(try reader.u32(at + 4)),
                                   vaddr: UInt64(try reader.u32(at + 8)), filesz: UInt64(try reader.u32(at + 16))))
            }
        }
        return out
    }

    func readSections(_ shoff: UInt64, _ shentsize: UInt64, _ shnum: UInt64) throws(ELFError) -> [Section] {
        guard shnum > 0 else { return [] }
        let total = try mul(shentsize, shnum, "the section header table size")
        try reader.check(shoff, total, "the section header table (\(shnum) entries)")
        var out: [Section] = []
        out.reserveCapacity(Int(shnum))
        for i in 0..<shnum {
            let at = shoff + i * shentsize
            if wide {
                out.append(Section(type: try reader.u32(at + 4), offset: try reader.u64(at + 24), size: try reader.u64(at + 32),
                                   link: try reader.u32(at + 40), info: try reader.u32(at + 44)))
            } else {
                out.append(Section(type: try reader.u32(at + 4), offset: UInt64(try reader.u32(at + 16)),
                                   size: UInt64(try reader.u32(at + 20)), link: try reader.u32(at + 24),
                                   info: try reader.u32(at + 28)))
            }
        }
        return out
    }

    func linkedStrings(_ s: Section, _ sections: [Section]) throws(ELFError) -> StringTable? {
        guard Int(s.link) < sections.count, s.link != 0 else { return nil }
        let t = sections[Int(s.link)]
        try reader.check(t.offset, t.size, "the string table of a version section")
        return StringTable(offset: t.offset, size: t.size)
    }

    func readDynamic(_ s: Segment) throws(ELFError) -> [(UInt64, UInt64)] {
        try reader.check(s.offset, s.filesz, "the dynamic segment")
        let entry: UInt64 = wide ? 16 : 8
        var out: [(UInt64, UInt64)] = []
        var at = s.offset
        let end = s.offset + s.filesz
        while end - at >= entry {
            let t: UInt64 = wide ? try reader.u64(at) : UInt64(try reader.u32(at))
            let v: UInt64 = wide ? try reader.u64(at + 8) : UInt64(try reader.u32(at + 4))
            if t == DT_NULL { break }
            out.append((t, v))
            at += entry
        }
        return out
    }

    /// The file offset of a virtual address, through the PT_LOAD segment that maps it.
    func fileOffset(_ address: UInt64, _ segments: [Segment]) -> UInt64? {
        for s in segments where s.type == PT_LOAD && address >= s.vaddr && address - s.vaddr < s.filesz {
            let (r, o) = s.offset.addingReportingOverflow(address - s.vaddr)
            return o ? nil : r
        }
        return nil
    }

    func string(_ table: StringTable, _ index: UInt64, _ what: String) throws(ELFError) -> String {
        guard index < table.size else {
            throw ELFError(.malformed, "\(what): string index \(index) outside its string table (\(table.size) bytes)",
                           offset: table.offset)
        }
        return try reader.cString(table.offset + index, end: table.offset + table.size, what)
    }

    /// `Elf_Verneed` (16 bytes: version, cnt, file, aux, next) each followed by a chain of
    /// `Elf_Vernaux` (16 bytes: hash, flags, other, name, next); same layout for both classes.
    func readVersionNeeds(at start: UInt64, size: UInt64, count: UInt64, strings: StringTable) throws(ELFError)
        -> [ELFFile.VersionNeed]
    {
        try reader.check(start, min(size, 16), "the version needs table")
        var out: [ELFFile.VersionNeed] = []
        var at = start
        var seen = 0
        while true {
            seen += 1
            guard seen <= maxChain, count == 0 || UInt64(seen) <= count else { break }
            try reader.check(at, 16, "a version need entry")
            let cnt = try reader.u16(at + 2)
            let fileName = try string(strings, UInt64(try reader.u32(at + 4)), "a version need's file name")
            var versions: [String] = []
            var aux = try add(at, UInt64(try reader.u32(at + 8)), "a version need's aux offset")
            for _ in 0..<cnt {
                try reader.check(aux, 16, "a version need aux entry")
                versions.append(try string(strings, UInt64(try reader.u32(aux + 8)), "a needed version name"))
                let next = UInt64(try reader.u32(aux + 12))
                if next == 0 { break }
                aux = try add(aux, next, "a version need aux chain")
            }
            out.append(ELFFile.VersionNeed(file: fileName, versions: versions))
            let next = UInt64(try reader.u32(at + 12))
            if next == 0 { break }
            at = try add(at, next, "the version need chain")
        }
        return out
    }

    /// `Elf_Verdef` (20 bytes: version, flags, ndx, cnt, hash, aux, next) each followed by
    /// `Elf_Verdaux` (8 bytes: name, next). The first name of each definition is its version.
    func readVersionDefinitions(at start: UInt64, size: UInt64, count: UInt64, strings: StringTable) throws(ELFError)
        -> [String]
    {
        try reader.check(start, min(size, 20), "the version definitions table")
        var out: [String] = []
        var at = start
        var seen = 0
        while true {
            seen += 1
            guard seen <= maxChain, count == 0 || UInt64(seen) <= count else { break }
            try reader.check(at, 20, "a version definition entry")
            let flags = try reader.u16(at + 2)
            let cnt = try reader.u16(at + 6)
            if cnt > 0 {
                let aux = try add(at, UInt64(try reader.u32(at + 12)), "a version definition's aux offset")
                try reader.check(aux, 8, "a version definition aux entry")
                let name = try string(strings, UInt64(try reader.u32(aux)), "a defined version name")
                // VER_FLG_BASE marks the entry naming the file itself, not a version.
                if flags & 1 == 0 { out.append(name) }
            }
            let next = UInt64(try reader.u32(at + 16))
            if next == 0 { break }
            at = try add(at, next, "the version definition chain")
        }
        return out
    }
}

// MARK: - search path helpers

extension ELFFile {
    /// Expands `$ORIGIN` and `${ORIGIN}` in a DT_RPATH/DT_RUNPATH entry. `origin` is the
    /// directory holding the object.
    public static func expandOrigin(_ entry: String, origin: String) -> String {
        guard entry.contains("$") else { return entry }
        return entry.replacing("${ORIGIN}", with: origin).replacing("$ORIGIN", with: origin)
    }

    /// `GLIBC_2.34` → [2, 34]; nil for other names (`GLIBC_PRIVATE`, `GCC_3.0`).
    public static func glibcVersion(_ name: String) -> [Int]? {
        guard name.hasPrefix("GLIBC_") else { return nil }
        let parts = name.dropFirst(6).split(separator: ".")
        guard !parts.isEmpty else { return nil }
        var out: [Int] = []
        for p in parts {
            guard let n = Int(p) else { return nil }
            out.append(n)
        }
        return out
    }

    /// Compares dotted version number lists.
    public static func compareVersions(_ a: [Int], _ b: [Int]) -> Int {
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
}
