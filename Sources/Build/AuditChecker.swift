import ELF
import FoundationEssentials
import Platform

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks every ELF executable and shared object of an image filesystem the way the dynamic
/// loader would run it: interpreter present, each DT_NEEDED found by the loader's search order,
/// each needed symbol version defined by the library found.
///
/// Search order (glibc): DT_RPATH (only when there is no DT_RUNPATH), LD_LIBRARY_PATH from the
/// image's Env, DT_RUNPATH, the directories of /etc/ld.so.conf (with its `include` globs), then
/// the default directories (/lib, /usr/lib, /lib64, /usr/lib64 and the multiarch ones). musl:
/// LD_LIBRARY_PATH, RPATH/RUNPATH, then /etc/ld-musl-<arch>.path or /lib:/usr/local/lib:/usr/lib.
/// Libraries of the wrong ELF class or machine are skipped, as the loader skips them.
///
/// Each object is checked on its own; for a library without DT_RUNPATH the DT_RPATHs of every
/// object in the image that (transitively) needs it are tried too, since glibc searches the
/// RPATH of the loading chain. Simplifications: `$LIB`/`$PLATFORM` are not expanded, relative
/// search entries (resolved against the working directory at run time) are skipped, and
/// /etc/ld.so.cache is not read (ld.so.conf and the default directories stand for it).
struct AuditChecker {
    enum Flavor { case glibc, musl }

    struct Object {
        var path: String
        var node: ImageFilesystem.Node
        var elf: ELFFile
    }

    struct Result {
        var findings: [AuditFinding] = []
        var unreadable: [AuditUnreadable] = []
        var filesChecked = 0
        var elfCount = 0
        var staticCount = 0
        var libc = "none"
        var glibcVersion: String?
        var highestGlibcNeeded: String?
    }

    let fs: ImageFilesystem
    let layers: [AuditLayer]
    let ldLibraryPath: [String]
    let imageMachine: UInt16?
    private let confDirs: [String]
    private let hasGlibcLoader: Bool
    private let hasMuslLoader: Bool

    init(fs: ImageFilesystem, layers: [AuditLayer], environment: [String], architecture: String?) {
        self.fs = fs
        self.layers = layers
        var path: [String] = []
        for e in environment where e.hasPrefix("LD_LIBRARY_PATH=") {
            path = e.dropFirst("LD_LIBRARY_PATH=".count).split(whereSeparator: { $0 == ":" || $0 == ";" }).map(String.init)
        }
        ldLibraryPath = path
        imageMachine = Self.machine(forArchitecture: architecture)
        confDirs = Self.ldSoConf(fs)
        let loaderDirs = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"] + Self.multiarchDirs
        var glibc = false, musl = false
        for dir in loaderDirs {
            for name in fs.list(dir) {
                if name.hasPrefix("ld-linux") || name.hasPrefix("ld64.so") { glibc = true }
                if name.hasPrefix("ld-musl-") { musl = true }
            }
        }
        hasGlibcLoader = glibc
        hasMuslLoader = musl
    }

    static let multiarchDirs = [
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
        "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf",
    ]

    static func machine(forArchitecture a: String?) -> UInt16? {
        switch a {
        case "amd64": 62
        case "arm64": 183
        case "386": 3
        case "arm": 40
        case "ppc64le": 21
        case "s390x": 22
        case "riscv64": 243
        default: nil
        }
    }

    static func multiarchTriplet(_ machine: UInt16, wide: Bool) -> String? {
        switch machine {
        case 62: wide ? "x86_64-linux-gnu" : "x86_64-linux-gnux32"
        case 3: "i386-linux-gnu"
        case 183: "aarch64-linux-gnu"
        case 40: "arm-linux-gnueabihf"
        case 21: "powerpc64le-linux-gnu"
        case 22: "s390x-linux-gnu"
        case 243: "riscv64-linux-gnu"
        default: nil
        }
    }

    /// glibc's built-in directories, with the multiarch ones Debian and Ubuntu add.
    static func defaultDirs(_ elf: ELFFile) -> [String] {
        var dirs: [String] = []
        if let t = multiarchTriplet(elf.machine, wide: elf.elfClass == .elf64) { dirs += ["/lib/\(t)", "/usr/lib/\(t)"] }
        if elf.elfClass == .elf64 { dirs += ["/lib64", "/usr/lib64"] } else { dirs += ["/lib32", "/usr/lib32"] }
        return dirs + ["/lib", "/usr/lib"]
    }

    // MARK: ld.so.conf

    static func ldSoConf(_ fs: ImageFilesystem) -> [String] {
        var dirs: [String] = []
        var seen: Set<String> = []
        func read(_ path: String, depth: Int) {
            guard depth < 8, let file = fs.regularFile(path), seen.insert(file.path).inserted, let text = file.file.text else { return }
            let base = Path.deletingLastComponent(file.path)
            for rawLine in text.split(whereSeparator: \.isNewline) {
                var line = Substring(rawLine)
                if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == ":" || $0 == "=" })
                guard let first = words.first else { continue }
                if first == "include" {
                    for pattern in words.dropFirst() {
                        let p = pattern.hasPrefix("/") ? String(pattern) : base + "/" + pattern
                        for match in glob(fs, p) { read(match, depth: depth + 1) }
                    }
                } else if first == "hwcap" {
                    continue
                } else {
                    // `dir=TYPE` is the old library-type suffix; the split above drops it as a word.
                    for w in words where w.hasPrefix("/") { dirs.append(String(w)) }
                }
            }
        }
        read("/etc/ld.so.conf", depth: 0)
        return dirs
    }

    /// Expands `*`, `?` and `[…]` in each component (no `**`), sorted as glob(3) does.
    static func glob(_ fs: ImageFilesystem, _ pattern: String) -> [String] {
        var current = ["/"]
        for part in pattern.split(separator: "/").map(String.init) {
            var next: [String] = []
            for dir in current {
                let prefix = dir == "/" ? "" : dir
                if part.contains(where: { "*?[".contains($0) }) {
                    for name in fs.list(dir) where !name.hasPrefix(".") && fnmatch(part, name, 0) == 0 {
                        next.append(prefix + "/" + name)
                    }
                } else if fs.exists(prefix + "/" + part) {
                    next.append(prefix + "/" + part)
                }
            }
            current = next.sorted()
        }
        return current
    }

    static func muslPath(_ fs: ImageFilesystem, arch: String) -> [String] {
        if let f = fs.regularFile("/etc/ld-musl-\(arch).path"), let text = f.file.text {
            return text.split(whereSeparator: { $0 == "\n" || $0 == ":" }).map {
                $0.trimming(.whitespaces)
            }.filter { !$0.isEmpty }
        }
        return ["/lib", "/usr/local/lib", "/usr/lib"]
    }

    static func muslArch(_ machine: UInt16) -> String {
        switch machine {
        case 62: "x86_64"
        case 3: "i386"
        case 183: "aarch64"
        case 40: "armhf"
        default: ELFFile.machineName(machine)
        }
    }

    /// musl's loader answers these names itself (`libc.so`, `libpthread.so.0` …).
    static func isMuslReserved(_ name: String) -> Bool {
        if name.hasPrefix("libc.musl-") { return true }
        for r in ["libc", "libpthread", "librt", "libm", "libdl", "libutil", "libxnet"] {
            let stem = r + ".so"
            if name == stem || name.hasPrefix(stem + ".") { return true }
        }
        return false
    }

    static func flavor(ofInterpreter interp: String) -> Flavor? {
        let base = Path.lastComponent(interp)
        if base.hasPrefix("ld-musl") { return .musl }
        if base.hasPrefix("ld-linux") || base.hasPrefix("ld64.so") || base.hasPrefix("ld.so") { return .glibc }
        return nil
    }

    // MARK: the run

    func run() -> Result {
        var result = Result()
        var objects: [Object] = []
        fs.visitFiles { path, node, file in
            result.filesChecked += 1
            if let elf = file.elf {
                guard elf.isLoadable else { return }
                objects.append(Object(path: path, node: node, elf: elf))
            } else if let reason = file.elfError {
                result.unreadable.append(AuditUnreadable(path: path, reason: reason, layer: layer(node)))
            }
        }
        objects.sort { $0.path < $1.path }
        result.unreadable.sort { $0.path < $1.path }
        result.elfCount = objects.count

        var cache: [String: Resolved?] = [:]
        var highest: [Int]?
        var neededBy: [String: [Int]] = [:]
        for (i, o) in objects.enumerated() {
            for name in o.elf.needed { neededBy[name, default: []].append(i) }
        }
        for o in objects {
            if o.elf.isStatic { result.staticCount += 1 }
            if o.elf.interpreter == nil && o.elf.needed.isEmpty && o.elf.versionNeeds.isEmpty { continue }
            for need in o.elf.versionNeeds {
                for v in need.versions {
                    if let n = ELFFile.glibcVersion(v), highest.map({ ELFFile.compareVersions(n, $0) > 0 }) ?? true {
                        highest = n
                    }
                }
            }
            result.findings += check(o, cache: &cache) { inheritedRpath(of: o, objects: objects, neededBy: neededBy) }
        }
        result.highestGlibcNeeded = highest.map { $0.map(String.init).joined(separator: ".") }
        result.libc = hasGlibcLoader && hasMuslLoader ? "glibc+musl" : hasGlibcLoader ? "glibc" : hasMuslLoader ? "musl" : "none"
        result.glibcVersion = glibcVersion()
        return result
    }

    func layer(_ node: ImageFilesystem.Node) -> AuditLayer? {
        node.layer < layers.count ? layers[node.layer] : nil
    }

    /// The version of the image's own glibc: the highest GLIBC_x.y its libc.so.6 defines, or
    /// the `libc-2.31.so` file name older releases use.
    func glibcVersion() -> String? {
        let machine = imageMachine ?? 62
        let dirs = confDirs + Self.defaultDirs(ELFFile.probe(machine: machine)) + Self.multiarchDirs
        for dir in dirs {
            guard let f = fs.regularFile(dir + "/libc.so.6") else { continue }
            if let elf = f.file.elf, elf.machine == machine {
                let versions = elf.versionDefinitions.compactMap(ELFFile.glibcVersion)
                if let max = versions.max(by: { ELFFile.compareVersions($0, $1) < 0 }) {
                    return max.map(String.init).joined(separator: ".")
                }
            }
            let name = Path.lastComponent(f.path)
            if name.hasPrefix("libc-"), name.hasSuffix(".so") {
                return String(name.dropFirst(5).dropLast(3))
            }
        }
        return nil
    }

    struct Resolved {
        var path: String
        var elf: ELFFile?
    }

    /// glibc also searches the DT_RPATH of the objects that loaded a library (up to the
    /// executable) when the library has no DT_RUNPATH: the RPATHs of everything in the image
    /// that needs this library, transitively, each without a RUNPATH of its own.
    func inheritedRpath(of o: Object, objects: [Object], neededBy: [String: [Int]]) -> [String] {
        var dirs: [String] = []
        var seen: Set<Int> = []
        var names = [Path.lastComponent(o.path)]
        if let soname = o.elf.soname { names.append(soname) }
        var frontier = names.flatMap { neededBy[$0] ?? [] }
        var depth = 0
        while !frontier.isEmpty && depth < 8 {
            var next: [Int] = []
            for i in frontier where seen.insert(i).inserted {
                let parent = objects[i]
                guard parent.elf.runpath.isEmpty else { continue }
                let origin = Path.deletingLastComponent(parent.path)
                dirs += parent.elf.rpath.map { ELFFile.expandOrigin($0, origin: origin) }
                var parentNames = [Path.lastComponent(parent.path)]
                if let soname = parent.elf.soname { parentNames.append(soname) }
                next += parentNames.flatMap { neededBy[$0] ?? [] }
            }
            frontier = next
            depth += 1
        }
        return dirs.filter { $0.hasPrefix("/") }
    }

    private func check(_ o: Object, cache: inout [String: Resolved?], inherited: () -> [String]) -> [AuditFinding] {
        var findings: [AuditFinding] = []
        let elf = o.elf
        let origin = Path.deletingLastComponent(o.path)
        func finding(_ kind: AuditFinding.Kind, _ missing: String, _ message: String) {
            findings.append(AuditFinding(kind: kind, path: o.path, missing: missing, message: message, layer: layer(o.node)))
        }

        // Which libc the file is built for: its loader says; a library without one goes by what it needs.
        var flavor: Flavor
        if let interp = elf.interpreter, let f = Self.flavor(ofInterpreter: interp) {
            flavor = f
        } else if elf.needed.contains("libc.so.6") {
            flavor = .glibc
        } else if elf.needed.contains(where: { $0.hasPrefix("libc.musl-") || $0 == "libc.so" }) {
            flavor = .musl
        } else {
            flavor = hasMuslLoader && !hasGlibcLoader ? .musl : .glibc
        }

        var interpreter: Resolved?
        if let interp = elf.interpreter {
            if let r = fs.regularFile(interp) {
                interpreter = Resolved(path: r.path, elf: r.file.elf)
            } else if flavor == .glibc && hasMuslLoader && !hasGlibcLoader {
                finding(.libcMismatch, interp,
                        "glibc binary in a musl image: its loader \(interp) is not in the image (the image has musl's ld-musl); "
                            + "build it in a musl (e.g. Alpine) stage, or link it statically")
                return findings
            } else if flavor == .musl && hasGlibcLoader && !hasMuslLoader {
                finding(.libcMismatch, interp,
                        "musl binary in a glibc image: its loader \(interp) is not in the image (the image has glibc's ld-linux); "
                            + "build it in a glibc (e.g. Debian) stage, or link it statically")
                return findings
            } else {
                let what = hasGlibcLoader || hasMuslLoader ? "" : " (the image has no libc at all)"
                finding(.missingInterpreter, interp,
                        "its interpreter \(interp) is not in the image\(what); copy the loader and libc from the build stage, "
                            + "use a base image with the same libc, or link statically")
                // Without its loader nothing else of it can run; library checks would only add noise.
                return findings
            }
        }

        // The search list, in the loader's order.
        var dirs: [String] = []
        if flavor == .glibc {
            if elf.runpath.isEmpty { dirs += elf.rpath.map { ELFFile.expandOrigin($0, origin: origin) } }
            dirs += ldLibraryPath.map { ELFFile.expandOrigin($0, origin: origin) }
            dirs += elf.runpath.map { ELFFile.expandOrigin($0, origin: origin) }
            dirs += confDirs + Self.defaultDirs(elf)
        } else {
            dirs += ldLibraryPath.map { ELFFile.expandOrigin($0, origin: origin) }
            dirs += (elf.rpath + elf.runpath).map { ELFFile.expandOrigin($0, origin: origin) }
            let arch = elf.interpreter.map { i -> String in
                let base = Path.lastComponent(i)
                return String(base.dropFirst("ld-musl-".count).prefix { $0 != "." })
            } ?? Self.muslArch(elf.machine)
            dirs += Self.muslPath(fs, arch: arch)
        }
        // Empty or relative entries depend on the working directory at run time; skip them.
        dirs = dirs.filter { $0.hasPrefix("/") }
        var unique: [String] = []
        var seen: Set<String> = []
        for d in dirs where seen.insert(d).inserted { unique.append(d) }

        var providers: [String: Resolved] = [:]
        for name in elf.needed {
            if flavor == .musl && Self.isMuslReserved(name) && (interpreter != nil || hasMuslLoader) {
                if let interpreter { providers[name] = interpreter }
                continue
            }
            if let r = find(name, dirs: unique, like: elf, cache: &cache) {
                providers[name] = r
                continue
            }
            if flavor == .glibc && elf.runpath.isEmpty && elf.interpreter == nil,
               let r = find(name, dirs: inherited(), like: elf, cache: &cache)
            {
                providers[name] = r
                continue
            }
            // glibc answers a DT_NEEDED of its own loader with the loader already mapped.
            if flavor == .glibc, name.hasPrefix("ld-linux") || name.hasPrefix("ld64.so"),
               let loader = interpreter ?? ["/lib64/" + name, "/lib/" + name].lazy.compactMap({ p in
                   self.fs.regularFile(p).map { Resolved(path: $0.path, elf: $0.file.elf) }
               }).first
            {
                providers[name] = loader
                continue
            }
            let shown = unique.count > 6 ? unique.prefix(6).joined(separator: ":") + ":…" : unique.joined(separator: ":")
            finding(.missingLibrary, name,
                    "needs \(name), which is not in the image where the loader looks (\(shown)); "
                        + "copy it from the build stage or install its package")
        }

        for need in elf.versionNeeds {
            guard let provider = providers[need.file] ?? find(need.file, dirs: unique, like: elf, cache: &cache),
                  let defs = provider.elf?.versionDefinitions, !defs.isEmpty
            else { continue }
            let defined = Set(defs)
            for v in need.versions where !defined.contains(v) {
                var have = ""
                if let newest = defs.compactMap(ELFFile.glibcVersion).max(by: { ELFFile.compareVersions($0, $1) < 0 }),
                   v.hasPrefix("GLIBC_")
                {
                    have = "; the image's glibc is \(newest.map(String.init).joined(separator: "."))"
                }
                finding(.missingVersion, "\(need.file) \(v)",
                        "needs \(v) from \(need.file), which \(provider.path) does not define\(have); "
                            + "build it against the libc of the runtime image (same base image in both stages)")
            }
        }
        return findings
    }

    /// The first file called `name` in `dirs` that the loader would take.
    private func find(_ name: String, dirs: [String], like elf: ELFFile, cache: inout [String: Resolved?]) -> Resolved? {
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : "/" + name
            return fs.regularFile(path).map { Resolved(path: $0.path, elf: $0.file.elf) }
        }
        for dir in dirs {
            let path = dir + "/" + name
            let key = (elf.elfClass == .elf64 ? "64/" : "32/") + String(elf.machine) + path
            if let hit = cache[key] {
                if let hit { return hit }
                continue
            }
            var found: Resolved?
            if let f = fs.regularFile(path), let candidate = f.file.elf,
               candidate.elfClass == elf.elfClass, candidate.machine == elf.machine
            {
                found = Resolved(path: f.path, elf: candidate)
            }
            cache[key] = .some(found)
            if let found { return found }
        }
        return nil
    }
}

extension ELFFile {
    /// A stand-in describing "a 64-bit (or 32-bit) object of this machine", for search lists.
    static func probe(machine: UInt16) -> ELFFile {
        ELFFile(elfClass: machine == 3 || machine == 40 ? .elf32 : .elf64, littleEndian: true, type: .sharedObject,
                machine: machine)
    }
}
