// The audit's fast path: when the engine keeps its layers in overlay2 directories this process
// can read (Berth on the engine's host, as root), the layers are indexed straight from those
// directories instead of through `GET /images/{id}/get`. The export makes the engine tar the
// whole image (1.5–2.5 s for a 120 MB Debian rootfs, most of it in the engine); here only 4
// bytes of each non-ELF file are read, and ELF files are mapped, so just the pages holding
// their headers and dynamic sections are touched. Anything unexpected falls back to the export.

import ELF
import FoundationEssentials
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// What the audit needs of `GET /images/{id}/json`, GraphDriver included (the Engine module's
/// ImageInspect leaves it out).
struct StorageImageInspect: Decodable, Sendable {
    struct GraphDriver: Decodable, Sendable {
        var Name: String?
        var Data: [String: String]?
    }

    struct Config: Decodable, Sendable {
        var Env: [String]?
    }

    struct RootFS: Decodable, Sendable {
        var Layers: [String]?
    }

    var id: String
    var architecture: String?
    var config: Config?
    var rootFS: RootFS?
    var graphDriver: GraphDriver?

    enum CodingKeys: String, CodingKey {
        case id = "Id", architecture = "Architecture", config = "Config", rootFS = "RootFS", graphDriver = "GraphDriver"
    }

    /// overlay2 layer directories, base layer first; nil unless there is one per layer.
    var overlayDirectories: [String]? {
        guard graphDriver?.Name == "overlay2", let data = graphDriver?.Data, let upper = data["UpperDir"] else { return nil }
        let lower = data["LowerDir"].map { $0.split(separator: ":").map(String.init) } ?? []
        // LowerDir lists the layers below the top one, nearest first.
        let directories = lower.reversed() + [upper]
        guard directories.count == (rootFS?.Layers?.count ?? -1) else { return nil }
        return directories
    }
}

/// One entry of `GET /images/{id}/history` (newest first).
struct StorageHistoryEntry: Decodable, Sendable {
    var Id: String?
    var CreatedBy: String?
    var Size: Int64?

    /// Whether the step made a layer. The endpoint has no `empty_layer`; the classic builder's
    /// metadata steps are `#(nop)` lines other than COPY and ADD.
    var makesLayer: Bool {
        let text = (CreatedBy ?? "").trimming(.whitespaces)
        guard let nop = text.firstRange(of: "#(nop)") else { return true }
        let rest = text[nop.upperBound...].trimming(.whitespaces)
        return rest.hasPrefix("COPY") || rest.hasPrefix("ADD")
    }
}

enum StorageLayerError: Error {
    /// The directory cannot be read as a layer (permissions, an unknown overlay feature).
    case unusable(String)
}

/// Indexes one overlay2 `diff` directory the way `LayerSink` indexes a layer tar.
struct StorageLayerReader {
    let root: String

    func index() throws(StorageLayerError) -> LayerIndex {
        var index = LayerIndex()
        guard access(root, R_OK | X_OK) == 0 else { throw .unusable("cannot read \(root)") }
        try walk(directory: root, relative: "", into: &index)
        return index
    }

    private func walk(directory: String, relative: String, into index: inout LayerIndex) throws(StorageLayerError) {
        guard let dir = opendir(directory) else { throw .unusable("cannot open \(directory): errno \(errno)") }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var subdirectories: [(String, String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw .unusable("cannot stat \(directory)/\(name): errno \(errno)")
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                index.entries.append(LayerEntry(path: path, kind: .directory))
                let full = directory + "/" + name
                if Self.xattr(full, "trusted.overlay.opaque") == "y" {
                    index.entries.append(LayerEntry(path: path, kind: .opaque))
                }
                // A directory renamed on an overlay with redirect_dir: its content lives elsewhere.
                if Self.xattr(full, "trusted.overlay.redirect") != nil {
                    throw .unusable("\(full) is an overlay redirect")
                }
                subdirectories.append((full, path))
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlinkat(fd, name, &buffer, buffer.count - 1)
                guard n >= 0 else { throw .unusable("cannot read the link \(directory)/\(name)") }
                let target = buffer[0..<n].withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer($0), as: UTF8.self) }
                index.entries.append(LayerEntry(path: path, kind: .symlink(target)))
            case S_IFCHR where st.st_rdev == 0:
                // overlayfs whiteout: a 0/0 character device.
                index.entries.append(LayerEntry(path: path, kind: .whiteout))
            case S_IFREG:
                index.regularFiles += 1
                var record = LayerFile(size: UInt64(st.st_size), mode: UInt32(st.st_mode & 0o7777))
                if Self.xattr(directory + "/" + name, "trusted.overlay.metacopy") != nil {
                    throw .unusable("\(directory)/\(name) is an overlay metacopy (its data is in a lower layer)")
                }
                try Self.read(fd: fd, name: name, path: path, into: &record, display: directory + "/" + name)
                index.entries.append(LayerEntry(path: path, kind: .file(record)))
            default:
                index.entries.append(LayerEntry(path: path, kind: .other))
            }
        }
        for (full, path) in subdirectories { try walk(directory: full, relative: path, into: &index) }
    }

    /// Loader configuration as text; ELF files parsed from a read-only mapping; anything else
    /// costs one 4-byte read.
    private static func read(fd: Int32, name: String, path: String, into record: inout LayerFile,
                             display: String) throws(StorageLayerError) {
        let wantsText = path.hasPrefix("etc/ld") && record.size <= 256 << 10
        guard wantsText || record.size >= 52 else { return }
        let file = openat(fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard file >= 0 else { throw .unusable("cannot open \(display): errno \(errno)") }
        defer { close(file) }
        if wantsText {
            var bytes = [UInt8](repeating: 0, count: Int(record.size))
            let n = bytes.withUnsafeMutableBytes { pread(file, $0.baseAddress, $0.count, 0) }
            guard n == bytes.count else { throw .unusable("cannot read \(display)") }
            record.text = String(decoding: bytes, as: UTF8.self)
            return
        }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = magic.withUnsafeMutableBytes { pread(file, $0.baseAddress, 4, 0) }
        guard n == 4, magic == ELFFile.magic else { return }
        let size = Int(record.size)
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, file, 0), base != MAP_FAILED else {
            throw .unusable("cannot map \(display): errno \(errno)")
        }
        defer { munmap(base, size) }
        do {
            record.elf = try ELFFile(parsing: UnsafeRawBufferPointer(start: base, count: size))
        } catch {
            record.elfError = error.description
        }
    }

    typealias GetXattr = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?, Int) -> Int

    /// glibc's lgetxattr: <sys/xattr.h> is not part of the Glibc module, and the symbol is in
    /// every glibc, so it is looked up once.
    static let lgetxattr: GetXattr? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "lgetxattr") else { return nil }
        return unsafeBitCast(symbol, to: GetXattr.self)
    }()

    static func xattr(_ path: String, _ name: String) -> String? {
        guard let lgetxattr else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, $0.count) }
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
