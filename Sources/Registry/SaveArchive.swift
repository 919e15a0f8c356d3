import Crypto
import FoundationEssentials
import Platform
import Glibc

/// One member of a tar archive.
struct TarEntry: Sendable {
    enum Kind: Sendable { case file, directory, symlink, hardlink, other }
    var name: String
    var kind: Kind
    var size: Int64
    var linkName: String
    /// Where the member's data starts in the archive file (file mode only).
    var dataOffset: Int64
}

/// Parsing of 512-byte tar headers (ustar, GNU long names, PAX path/size), shared by the file
/// index and the stream reader.
enum TarFormat {
    static let block = 512

    enum Header {
        case end
        case entry(name: String, type: UInt8, size: Int64, linkName: String)
    }

    static func parseHeader(_ h: Data, context: String) throws -> Header {
        precondition(h.count == block)
        let bytes = [UInt8](h)
        if bytes.allSatisfy({ $0 == 0 }) { return .end }
        // Checksum: the sum of the header with its checksum field read as spaces.
        var sum = 0
        for (i, b) in bytes.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
        guard let stored = octal(bytes[148..<156]), stored == Int64(sum) else {
            throw RegistryError(.badTarball, "\(context): bad tar header checksum (not a tar archive, or corrupt)",
                hint: "Export the image again with `docker save` (or the engine's /images/{name}/get)")
        }
        guard let size = number(bytes[124..<136]), size >= 0 else {
            throw RegistryError(.badTarball, "\(context): bad size field in a tar header", hint: "Export the image again")
        }
        var name = cString(bytes[0..<100])
        let magic = cString(bytes[257..<262])
        if magic == "ustar" {
            let prefix = cString(bytes[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        return .entry(name: name, type: bytes[156], size: size, linkName: cString(bytes[157..<257]))
    }

    static func cString(_ s: ArraySlice<UInt8>) -> String {
        let end = s.firstIndex(of: 0) ?? s.endIndex
        return String(decoding: s[s.startIndex..<end], as: UTF8.self)
    }

    static func octal(_ s: ArraySlice<UInt8>) -> Int64? {
        var v: Int64 = 0
        var seen = false
        for b in s {
            if b == 0 || b == 32 { if seen { break } else { continue } }
            guard (48...55).contains(b) else { return nil }
            v = v * 8 + Int64(b - 48)
            seen = true
        }
        return v
    }

    /// Octal, or GNU base-256 when the high bit of the first byte is set (sizes over 8 GB).
    static func number(_ s: ArraySlice<UInt8>) -> Int64? {
        guard let first = s.first else { return nil }
        if first & 0x80 != 0 {
            var v: Int64 = Int64(first & 0x7f)
            for b in s.dropFirst() { v = (v << 8) | Int64(b) }
            return v
        }
        return octal(s)
    }

    static func padded(_ size: Int64) -> Int64 { (size + 511) / 512 * 512 }

    /// PAX records `len key=value\n`; we need `path`, `linkpath` and `size`.
    static func paxRecords(_ data: Data) -> [String: String] {
        var out: [String: String] = [:]
        var rest = Substring(String(decoding: data, as: UTF8.self))
        while let space = rest.firstIndex(of: " "), let len = Int(rest[..<space]), len > 0 {
            let recordEnd = rest.utf8.index(rest.startIndex, offsetBy: len, limitedBy: rest.endIndex) ?? rest.endIndex
            let record = rest[rest.index(after: space)..<recordEnd].dropLast(rest[..<recordEnd].hasSuffix("\n") ? 1 : 0)
            if let eq = record.firstIndex(of: "=") {
                out[String(record[..<eq])] = String(record[record.index(after: eq)...])
            }
            rest = rest[recordEnd...]
        }
        return out
    }

    static func normalize(_ name: String) -> String {
        var n = Substring(name)
        while n.hasPrefix("./") { n = n.dropFirst(2) }
        while n.hasPrefix("/") { n = n.dropFirst() }
        return String(n)
    }

    static func kind(_ type: UInt8) -> TarEntry.Kind {
        switch type {
        case 0, 48, 55: return .file  // NUL, '0', '7' (contiguous)
        case 53: return .directory  // '5'
        case 50: return .symlink  // '2'
        case 49: return .hardlink  // '1'
        default: return .other
        }
    }
}

/// The members of a `docker save` archive, from a file (seeking past data) or a stream
/// (spooling what is needed).
struct SaveArchive: Sendable {
    /// `manifest.json` of `docker save`.
    struct ManifestEntry: Decodable, Sendable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    enum Member: Sendable {
        case region(path: String, offset: Int64, length: Int64)
        case spooled(path: String, length: Int64, digest: String)
        case memory(Data)
        case link(String)
        /// Handed to a compressor while reading; not readable again.
        case streamed
    }

    var members: [String: Member] = [:]
    /// Where the archive came from, for messages.
    var origin: String

    /// Follows symlinks and hard links (docker save links repeated layers) to the data.
    func resolve(_ name: String) -> Member? {
        resolvedName(name).flatMap { members[$0] }
    }

    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/") {
            if p == "." { continue }
            if p == ".." { _ = parts.popLast() } else { parts.append(p) }
        }
        return parts.joined(separator: "/")
    }

    func data(_ name: String, limit: Int = 64 << 20) throws -> Data {
        guard let m = resolve(name) else {
            throw RegistryError(.badTarball, "\(origin) has no member \(name)",
                hint: "This is not a complete `docker save` archive; export the image again")
        }
        let path: String
        let start: Int64
        let length: Int64
        switch m {
        case .memory(let d): return d
        case .region(let p, let o, let l): (path, start, length) = (p, o, l)
        case .spooled(let p, let l, _): (path, start, length) = (p, 0, l)
        case .link, .streamed:
            throw RegistryError(.badTarball, "\(origin): \(name) cannot be read as a file", hint: "Export the image again")
        }
        guard length <= limit else {
            throw RegistryError(.badTarball, "\(origin): \(name) is unexpectedly large (\(length) bytes)",
                hint: "Export the image again")
        }
        let reader = try BlockReader(.file(path: path, offset: start, length: length))
        defer { reader.close() }
        return try reader.read(at: 0, count: Int(length))
    }

    /// The uncompressed layer bytes, and its diff-id when already known from spooling.
    func layer(_ name: String) throws -> (LayerInput, String?) {
        switch resolve(name) {
        case .region(let path, let offset, let length): return (.file(path: path, offset: offset, length: length), nil)
        case .spooled(let path, let length, let digest): return (.file(path: path, offset: 0, length: length), digest)
        case .memory(let d): return (.data(d), Digest.of(d))
        default:
            throw RegistryError(.badTarball, "\(origin) lacks layer \(name) that its manifest.json lists",
                hint: "The archive is incomplete or truncated; export the image again")
        }
    }

    func manifest() throws -> [ManifestEntry] {
        let d = try data("manifest.json")
        do {
            return try JSONDecoder().decode([ManifestEntry].self, from: d)
        } catch {
            throw RegistryError(.badTarball, "\(origin): manifest.json is not a docker save manifest: \(error)",
                hint: "Export the image again with `docker save`")
        }
    }

    /// Indexes an archive file by reading only its headers.
    static func index(file path: String) throws -> SaveArchive {
        guard let fh = File(forReadingAtPath: path) else {
            throw RegistryError.io("cannot open", path, String(cString: strerror(errno)))
        }
        defer { try? fh.close() }
        var archive = SaveArchive(origin: path)
        var offset: Int64 = 0
        var longName: String?
        var longLink: String?
        var pax: [String: String] = [:]
        let fileSize = (try? fh.seekToEnd()).map(Int64.init) ?? 0
        while true {
            try fh.seek(toOffset: UInt64(offset))
            let h = try fh.read(upToCount: TarFormat.block) ?? Data()
            if h.isEmpty && offset > 0 {
                throw RegistryError(.badTarball, "\(path) ends without the tar end marker (truncated)",
                    hint: "Export the image again; the archive was cut short")
            }
            guard h.count == TarFormat.block else {
                throw RegistryError(.badTarball, "\(path) is not a tar archive (too short)",
                    hint: "Pass the output of `docker save`")
            }
            guard case .entry(let rawName, let type, var size, let rawLink) = try TarFormat.parseHeader(h, context: path) else {
                break
            }
            if let s = pax["size"], let v = Int64(s) { size = v }
            let dataOffset = offset + Int64(TarFormat.block)
            guard dataOffset + size <= fileSize else {
                throw RegistryError(.badTarball, "\(path): member \(rawName) runs past the end of the file (truncated)",
                    hint: "Export the image again; the archive was cut short")
            }
            offset = dataOffset + TarFormat.padded(size)
            switch type {
            case 76, 75:  // 'L' / 'K': GNU long name / long link for the next member
                try fh.seek(toOffset: UInt64(dataOffset))
                let d = try fh.read(upToCount: Int(min(size, 1 << 20))) ?? Data()
                let s = TarFormat.cString(ArraySlice([UInt8](d)))
                if type == 76 { longName = s } else { longLink = s }
                continue
            case 120:  // 'x': PAX header for the next member
                try fh.seek(toOffset: UInt64(dataOffset))
                pax = TarFormat.paxRecords(try fh.read(upToCount: Int(min(size, 1 << 20))) ?? Data())
                continue
            case 103: continue  // 'g': global PAX header
            default: break
            }
            let name = TarFormat.normalize(pax["path"] ?? longName ?? rawName)
            let link = pax["linkpath"] ?? longLink ?? rawLink
            longName = nil
            longLink = nil
            pax = [:]
            switch TarFormat.kind(type) {
            case .file: archive.members[name] = .region(path: path, offset: dataOffset, length: size)
            case .symlink, .hardlink: archive.members[name] = .link(link)
            default: break
            }
        }
        return archive
    }
}

/// Reads a tar stream member by member, handing big members to `onLarge` (which spools them).
struct AsyncByteReader {
    var iterator: AsyncThrowingStream<Data, any Error>.AsyncIterator
    var buffer = Data()
    var position = 0

    init(_ stream: AsyncThrowingStream<Data, any Error>) { iterator = stream.makeAsyncIterator() }

    /// Up to `max` bytes; empty only at the end of the stream.
    mutating func read(max: Int) async throws -> Data {
        while position >= buffer.count {
            guard let next = try await iterator.next() else { return Data() }
            buffer = next
            position = 0
        }
        let n = Swift.min(max, buffer.count - position)
        let start = buffer.startIndex + position
        position += n
        if position == buffer.count && n == buffer.count { return buffer }
        return buffer.subdata(in: start..<(start + n))
    }

    mutating func readExactly(_ count: Int) async throws -> Data? {
        var out = Data()
        while out.count < count {
            let d = try await read(max: count - out.count)
            if d.isEmpty { return out.isEmpty ? nil : out }
            out.append(d)
        }
        return out
    }
}

/// Incremental sha256 giving the `sha256:<hex>` form.
struct SHA256Hasher {
    private var h = SHA256()
    mutating func update(_ d: Data) { h.update(data: d) }
    func finalize() -> String { Digest.string(h.finalize()) }
}
