import ELF
import FoundationEssentials
import Platform
import Glibc

/// A regular file of a layer: its size and, for ELF files, what the loader needs to know.
struct LayerFile: Sendable {
    var size: UInt64
    var mode: UInt32
    var elf: ELFFile?
    /// Set when the file starts with the ELF magic but cannot be read.
    var elfError: String?
    /// Content of the loader's configuration files (`/etc/ld.so.conf*`, `/etc/ld-musl-*.path`).
    var text: String?
}

/// One entry of a layer, in the layer's tar order.
struct LayerEntry: Sendable {
    enum Kind: Sendable {
        case file(LayerFile)
        case directory
        case symlink(String)
        /// A hard link to a path not (yet) seen in this layer: resolved against the lower layers.
        case hardlink(String)
        case other
        /// `.wh.<name>`: removes `<name>` of the lower layers.
        case whiteout
        /// `.wh..wh..opq`: the directory hides everything the lower layers put in it.
        case opaque
    }

    /// Relative to the image root; for whiteouts, the path they remove (for opaque markers,
    /// the directory).
    var path: String
    var kind: Kind
}

/// Everything the audit keeps of one layer: entries and ELF facts, never file content.
struct LayerIndex: Sendable {
    var entries: [LayerEntry] = []
    var regularFiles = 0
}

/// The image configuration (the `<id>.json` of `docker save`): what the audit uses of it.
struct SavedImageConfig: Decodable, Sendable {
    struct Config: Decodable, Sendable {
        var Env: [String]?
    }

    struct RootFS: Decodable, Sendable {
        var diff_ids: [String]?
    }

    struct History: Decodable, Sendable {
        var created_by: String?
        var empty_layer: Bool?
    }

    var architecture: String?
    var os: String?
    var config: Config?
    var rootfs: RootFS?
    var history: [History]?
}

/// An exported image, read: its configuration and its layers' indexes in order.
struct SavedImage: Sendable {
    var configDigest: String
    var config: SavedImageConfig
    var layers: [LayerIndex]
    /// diff-id and the history step (`created_by`) of each layer, when known.
    var layerInfo: [AuditLayer]
    var bytesRead: UInt64
}

/// Reads a `docker save` archive as it streams: each layer tar is indexed on the fly (parsing
/// ELF headers of the files in it, one file at a time) and forgotten; small JSON files are kept.
/// The manifest comes last in the archive, so layers are indexed by their path and put in
/// order at the end.
final class SaveArchiveReader {
    private lazy var parser = TarStreamParser(name: "the export of \(archiveName)") { [unowned self] header in
        self.entry(header)
    }
    private var layers: [String: LayerIndex] = [:]
    private var small: [String: [UInt8]] = [:]
    private var links: [String: String] = [:]
    private var compressed: Set<String> = []
    private(set) var bytesRead: UInt64 = 0
    let spoolDirectory: URL
    let archiveName: String

    /// - Parameter spoolDirectory: where ELF files too large to parse in memory are written
    ///   while they are read (created on demand; the caller removes it).
    init(name: String, spoolDirectory: URL) {
        archiveName = name
        self.spoolDirectory = spoolDirectory
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        bytesRead += UInt64(bytes.count)
        try parser.feed(bytes)
    }

    private func entry(_ header: TarEntryHeader) -> (any TarEntrySink)? {
        switch header.kind {
        case .symlink:
            // `docker save` links a layer shared twice to its first copy.
            let dir = Path.deletingLastComponent(header.path)
            links[header.path] = TarStreamParser.normalize(
                header.linkTarget.hasPrefix("/") ? header.linkTarget : dir + "/" + header.linkTarget)
            return nil
        case .file:
            return SniffSink(path: header.path, size: header.size, reader: self)
        default:
            return nil
        }
    }

    fileprivate func storeLayer(_ path: String, _ index: LayerIndex) { layers[path] = index }
    fileprivate func storeSmall(_ path: String, _ bytes: [UInt8]) { small[path] = bytes }
    fileprivate func markCompressed(_ path: String) { compressed.insert(path) }

    private func resolve(_ path: String) -> String {
        var p = TarStreamParser.normalize(path)
        var hops = 0
        while let next = links[p], hops < 16 {
            p = next
            hops += 1
        }
        return p
    }

    private func fail(_ message: String) -> TarFormatError {
        TarFormatError(message: "the export of \(archiveName) \(message)")
    }

    /// The archive ended: order the layers by the manifest and attach the config.
    func finish() throws -> SavedImage {
        try parser.finish()
        struct Manifest: Decodable {
            var Config: String
            var Layers: [String]
        }
        guard let manifestBytes = small["manifest.json"] else { throw fail("has no manifest.json (not a docker save archive)") }
        let manifests: [Manifest]
        do {
            manifests = try JSONDecoder().decode([Manifest].self, from: Data(manifestBytes))
        } catch {
            throw fail("has an unreadable manifest.json: \(error)")
        }
        guard let manifest = manifests.first else { throw fail("has an empty manifest.json") }
        guard let configBytes = small[resolve(manifest.Config)] else { throw fail("lacks its config \(manifest.Config)") }
        let config: SavedImageConfig
        do {
            config = try JSONDecoder().decode(SavedImageConfig.self, from: Data(configBytes))
        } catch {
            throw fail("has an unreadable config \(manifest.Config): \(error)")
        }
        var ordered: [LayerIndex] = []
        for path in manifest.Layers {
            let p = resolve(path)
            if let index = layers[p] {
                ordered.append(index)
            } else if let bytes = small[p] {
                // A layer small enough to have been kept as bytes (an empty layer is 1 KiB of zeros).
                ordered.append(try Self.index(bytes: bytes, name: p, spool: spoolDirectory))
            } else if compressed.contains(p) {
                throw fail("has a compressed layer \(path); only uncompressed layer tars are supported")
            } else {
                throw fail("lacks the layer \(path) its manifest lists")
            }
        }
        let diffIDs = config.rootfs?.diff_ids ?? []
        let steps = (config.history ?? []).filter { $0.empty_layer != true }
        var info: [AuditLayer] = []
        for i in 0..<ordered.count {
            info.append(AuditLayer(index: i, diffID: i < diffIDs.count ? diffIDs[i] : nil,
                                   createdBy: i < steps.count ? steps[i].created_by : nil))
        }
        let digest = Path.lastComponent(manifest.Config).replacing(".json", with: "")
        return SavedImage(configDigest: "sha256:" + digest, config: config, layers: ordered, layerInfo: info,
                          bytesRead: bytesRead)
    }

    static func index(bytes: [UInt8], name: String, spool: URL) throws -> LayerIndex {
        let sink = LayerSink(name: name, spool: spool)
        try bytes.withUnsafeBytes { try sink.data($0) }
        return try sink.finish()
    }
}

/// Looks at the first block of an archive member: a tar (ustar magic) is indexed as a layer,
/// small files are kept (JSON), anything else is skipped.
private final class SniffSink: TarEntrySink {
    let path: String
    let size: UInt64
    unowned let reader: SaveArchiveReader
    private var head: [UInt8] = []
    private var layer: LayerSink?
    private var keep: [UInt8]?
    private var decided = false

    static let keepLimit: UInt64 = 16 << 20

    init(path: String, size: UInt64, reader: SaveArchiveReader) {
        self.path = path
        self.size = size
        self.reader = reader
        if size <= Self.keepLimit { keep = [] }
    }

    func data(_ bytes: UnsafeRawBufferPointer) throws {
        if decided {
            if let layer { try layer.data(bytes) } else { keep?.append(contentsOf: bytes) }
            return
        }
        head.append(contentsOf: bytes)
        if head.count >= 512 { try decide() }
    }

    private func decide() throws {
        decided = true
        let isTar = head.count >= 263 && Array(head[257..<262]) == Array("ustar".utf8)
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { reader.markCompressed(path) }
        if isTar {
            let sink = LayerSink(name: path, spool: reader.spoolDirectory)
            layer = sink
            keep = nil
            try head.withUnsafeBytes { try sink.data($0) }
        } else {
            keep?.append(contentsOf: head)
        }
        head = []
    }

    func end() throws {
        if !decided { try decide() }
        if let layer {
            reader.storeLayer(path, try layer.finish())
        } else if let keep {
            reader.storeSmall(path, keep)
        }
    }
}

/// Indexes one layer tar as it streams by.
final class LayerSink: TarEntrySink {
    private lazy var parser = TarStreamParser(name: "layer \(name)") { [unowned self] header in
        try self.entry(header)
    }
    private let name: String
    private var index = LayerIndex()
    /// Regular files of this layer by path, so hard links copy their facts.
    private var files: [String: LayerFile] = [:]
    let spool: URL

    init(name: String, spool: URL) {
        self.spool = spool
        self.name = name
    }

    func data(_ bytes: UnsafeRawBufferPointer) throws { try parser.feed(bytes) }
    func end() throws {}

    func finish() throws -> LayerIndex {
        try parser.finish()
        return index
    }

    private func entry(_ h: TarEntryHeader) throws -> (any TarEntrySink)? {
        guard !h.path.isEmpty else { return nil }  // the root directory itself
        let slash = h.path.lastIndex(of: "/")
        let base = slash.map { h.path[h.path.index(after: $0)...] } ?? Substring(h.path)
        let dir = slash.map { String(h.path[..<$0]) } ?? ""
        if base.hasPrefix(".wh.") {
            if base == ".wh..wh..opq" {
                index.entries.append(LayerEntry(path: dir, kind: .opaque))
            } else {
                let name = base.dropFirst(4)
                index.entries.append(LayerEntry(path: dir.isEmpty ? String(name) : dir + "/" + name, kind: .whiteout))
            }
            return nil
        }
        switch h.kind {
        case .directory:
            index.entries.append(LayerEntry(path: h.path, kind: .directory))
        case .symlink:
            index.entries.append(LayerEntry(path: h.path, kind: .symlink(h.linkTarget)))
        case .hardlink:
            if let f = files[h.linkTarget] {
                index.entries.append(LayerEntry(path: h.path, kind: .file(f)))
                files[h.path] = f
                index.regularFiles += 1
            } else {
                index.entries.append(LayerEntry(path: h.path, kind: .hardlink(h.linkTarget)))
            }
        case .other:
            index.entries.append(LayerEntry(path: h.path, kind: .other))
        case .file:
            index.regularFiles += 1
            let record = LayerFile(size: h.size, mode: h.mode)
            if h.path.hasPrefix("etc/ld"), h.size <= 256 << 10 {
                return TextSink(path: h.path, record: record) { [unowned self] path, record in self.add(path, record) }
            }
            // Too small to hold an ELF header: nothing to look at.
            guard h.size >= 52 else {
                add(h.path, record)
                return nil
            }
            return ELFSink(path: h.path, record: record, spool: spool) { [unowned self] path, record in
                self.add(path, record)
            }
        }
        return nil
    }

    private func add(_ path: String, _ record: LayerFile) {
        files[path] = record
        index.entries.append(LayerEntry(path: path, kind: .file(record)))
    }
}

/// Collects a file that starts with the ELF magic (in memory, or spooled to disk when large),
/// parses it at its end and drops the bytes. Other files are ignored after four bytes.
private final class ELFSink: TarEntrySink {
    static let memoryLimit: UInt64 = 64 << 20

    let path: String
    var record: LayerFile
    let spool: URL
    let done: (String, LayerFile) -> Void
    private var magic: [UInt8] = []
    private var state: State = .sniffing

    enum State {
        case sniffing, skipping, memory([UInt8]), disk(File, URL)
    }

    init(path: String, record: LayerFile, spool: URL, done: @escaping (String, LayerFile) -> Void) {
        self.path = path
        self.record = record
        self.spool = spool
        self.done = done
    }

    func data(_ bytes: UnsafeRawBufferPointer) throws {
        switch state {
        case .skipping:
            return
        case .memory(var buffer):
            state = .skipping  // drop the reference so the append does not copy
            buffer.append(contentsOf: bytes)
            state = .memory(buffer)
        case .disk(let handle, _):
            try handle.write(contentsOf: bytes)
        case .sniffing:
            let need = 4 - magic.count
            magic.append(contentsOf: bytes.prefix(need))
            guard magic.count == 4 else { return }
            guard magic == ELFFile.magic else {
                state = .skipping
                return
            }
            if record.size <= Self.memoryLimit {
                var buffer: [UInt8] = []
                buffer.reserveCapacity(Int(record.size))
                buffer.append(contentsOf: magic)
                buffer.append(contentsOf: bytes.dropFirst(need))
                state = .memory(buffer)
            } else {
                try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
                let url = spool.appendingPathComponent(UUID().uuidString)
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw TarFormatError(message: "cannot create a spool file in \(spool.path) to read \(path)")
                }
                let handle = try File(forWritingTo: url)
                try handle.write(contentsOf: magic)
                try handle.write(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[need...]))
                state = .disk(handle, url)
            }
        }
    }

    func end() throws {
        switch state {
        case .memory(let buffer):
            state = .skipping
            parse { () throws(ELFError) -> ELFFile in try ELFFile(bytes: buffer) }
        case .disk(let handle, let url):
            state = .skipping
            try handle.close()
            defer { try? FileManager.default.removeItem(at: url) }
            let data = try Data(contentsOf: url, options: .alwaysMapped)
            parse { () throws(ELFError) -> ELFFile in try ELFFile(data: data) }
        case .sniffing, .skipping:
            break
        }
        done(path, record)
    }

    private func parse(_ body: () throws(ELFError) -> ELFFile) {
        do {
            record.elf = try body()
        } catch {
            record.elfError = error.description
        }
    }
}

/// Keeps the text of a small configuration file.
private final class TextSink: TarEntrySink {
    let path: String
    var record: LayerFile
    let done: (String, LayerFile) -> Void
    private var bytes: [UInt8] = []

    init(path: String, record: LayerFile, done: @escaping (String, LayerFile) -> Void) {
        self.path = path
        self.record = record
        self.done = done
    }

    func data(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }

    func end() throws {
        record.text = String(decoding: bytes, as: UTF8.self)
        done(path, record)
    }
}
