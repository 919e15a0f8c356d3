import FoundationEssentials
import Glibc

/// One entry of a tar stream, after PAX and GNU long-name records were applied.
struct TarEntryHeader {
    enum Kind: Equatable {
        case file, directory, symlink, hardlink, other
    }

    /// Normalized, relative to the archive root: no leading `/` or `./`, no `.`/`..` parts.
    var path: String
    var kind: Kind
    var linkTarget: String
    var size: UInt64
    var mode: UInt32
}

/// Receives the content of one tar entry, chunk by chunk.
protocol TarEntrySink: AnyObject {
    func data(_ bytes: UnsafeRawBufferPointer) throws
    func end() throws
}

struct TarFormatError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A push parser for ustar/PAX/GNU tar: feed it bytes as they arrive, it calls `onEntry` for
/// each header and streams that entry's content into the sink it returns (nil skips it). It
/// holds at most one header block and one PAX record in memory, so a layer of any size streams
/// through; nested archives (a layer tar inside `docker save`) are parsed by feeding an inner
/// parser from an entry's sink.
final class TarStreamParser {
    private let onEntry: (TarEntryHeader) throws -> (any TarEntrySink)?
    private let name: String

    private var block = [UInt8](repeating: 0, count: 512)
    private var blockFill = 0
    /// Content bytes left in the current entry, then padding to the next 512.
    private var remaining: UInt64 = 0
    private var padding: UInt64 = 0
    private var sink: (any TarEntrySink)?
    /// A PAX or GNU long-name record being collected instead of streamed.
    private var meta: [UInt8]?
    private var metaType: UInt8 = 0
    private var pax: [String: String] = [:]
    private var globalPax: [String: String] = [:]
    private var longName: String?
    private var longLink: String?
    private var zeroBlocks = 0
    private(set) var ended = false
    private(set) var entries = 0

    /// - Parameter name: what the archive is, for error messages.
    init(name: String, onEntry: @escaping (TarEntryHeader) throws -> (any TarEntrySink)?) {
        self.name = name
        self.onEntry = onEntry
    }

    func feed(_ input: UnsafeRawBufferPointer) throws {
        var i = 0
        let n = input.count
        while i < n {
            if ended { return }
            if remaining > 0 {
                let take = Int(min(remaining, UInt64(n - i)))
                let chunk = UnsafeRawBufferPointer(rebasing: input[i..<(i + take)])
                if meta != nil {
                    meta?.append(contentsOf: chunk)
                } else if let sink {
                    try sink.data(chunk)
                }
                i += take
                remaining -= UInt64(take)
                if remaining == 0 { try endEntry() }
                continue
            }
            if padding > 0 {
                let skip = Int(min(padding, UInt64(n - i)))
                i += skip
                padding -= UInt64(skip)
                continue
            }
            // A header block: parse in place when whole, else collect across chunks.
            if blockFill == 0 && n - i >= 512 {
                try header(UnsafeRawBufferPointer(rebasing: input[i..<(i + 512)]))
                i += 512
            } else {
                let take = min(512 - blockFill, n - i)
                let source = UnsafeRawBufferPointer(rebasing: input[i..<(i + take)])
                let at = blockFill
                block.withUnsafeMutableBytes { dst in
                    UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + take)]).copyMemory(from: source)
                }
                blockFill += take
                i += take
                if blockFill == 512 {
                    blockFill = 0
                    try block.withUnsafeBytes { try header($0) }
                }
            }
        }
    }

    /// The input ended: an entry cut short is an error; a missing end-of-archive marker is not
    /// (some writers omit it).
    func finish() throws {
        if remaining > 0 || blockFill > 0 || meta != nil {
            throw TarFormatError(message: "\(name) ends in the middle of an entry (the archive is cut short)")
        }
    }

    private func endEntry() throws {
        if let record = meta {
            meta = nil
            switch metaType {
            case UInt8(ascii: "x"): pax = Self.parsePax(record)
            case UInt8(ascii: "g"): globalPax.merge(Self.parsePax(record)) { $1 }
            case UInt8(ascii: "L"): longName = Self.cString(record)
            case UInt8(ascii: "K"): longLink = Self.cString(record)
            default: break
            }
        } else if let s = sink {
            sink = nil
            try s.end()
        }
    }

    private func header(_ b: UnsafeRawBufferPointer) throws {
        if b.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks >= 2 { ended = true }
            return
        }
        zeroBlocks = 0
        // The checksum tells a tar header from garbage (or from a compressed layer).
        var sum: UInt64 = 8 * 32
        for k in 0..<148 { sum &+= UInt64(b[k]) }
        for k in 156..<512 { sum &+= UInt64(b[k]) }
        guard let stored = Self.number(b, 148, 8), stored == sum else {
            throw TarFormatError(message: "\(name): entry \(entries + 1) has a bad tar header checksum (not a tar archive, or damaged)")
        }
        guard let size = Self.number(b, 124, 12) else {
            throw TarFormatError(message: "\(name): entry \(entries + 1) has an unreadable size field")
        }
        let type = b[156]
        let fullSize = (pax["size"].flatMap { UInt64($0) }) ?? size
        remaining = fullSize
        padding = (512 - fullSize % 512) % 512
        entries += 1

        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
            guard size <= 16 << 20 else {
                throw TarFormatError(message: "\(name): a \(size)-byte metadata record (limit 16 MiB)")
            }
            // The size of a metadata record is its own; never a PAX override.
            remaining = size
            padding = (512 - size % 512) % 512
            meta = []
            metaType = type
            if size == 0 { try endEntry() }
            return
        default: break
        }

        var path = longName ?? pax["path"] ?? globalPax["path"] ?? {
            let name = Self.field(b, 0, 100)
            // ustar's prefix field; GNU tar ("ustar  ") uses those bytes for other things.
            let isUstar = b[257] == UInt8(ascii: "u") && b[262] == 0
            let prefix = isUstar ? Self.field(b, 345, 155) : ""
            return prefix.isEmpty ? name : prefix + "/" + name
        }()
        let link = longLink ?? pax["linkpath"] ?? Self.field(b, 157, 100)
        longName = nil
        longLink = nil
        pax = [:]

        let kind: TarEntryHeader.Kind
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = path.hasSuffix("/") ? .directory : .file
        case UInt8(ascii: "1"): kind = .hardlink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "5"): kind = .directory
        default: kind = .other
        }
        path = Self.normalize(path)
        let mode = UInt32(Self.number(b, 100, 8) ?? 0)
        // Hard links and the like carry no content even when a size is written.
        if kind != .file && kind != .other {
            remaining = 0
            padding = 0
        }
        sink = try onEntry(TarEntryHeader(path: path, kind: kind, linkTarget: kind == .hardlink ? Self.normalize(link) : link,
                                     size: remaining, mode: mode))
        if remaining == 0 { try endEntry() }
    }

    /// `./a//b/../c/` → `a/c`; never above the root.
    static func normalize(_ path: String) -> String {
        if isNormal(path) { return path }
        if path.utf8.last == UInt8(ascii: "/") {
            let trimmed = String(path.dropLast())
            if isNormal(trimmed) { return trimmed }
        }
        var parts: [Substring] = []
        for p in path.split(separator: "/", omittingEmptySubsequences: true) {
            if p == "." { continue }
            if p == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(p)
        }
        return parts.joined(separator: "/")
    }

    /// Most names in a layer are already clean; checking is much cheaper than splitting.
    static func isNormal(_ path: String) -> Bool {
        var length = 0
        var dotsOnly = true
        for c in path.utf8 {
            if c == UInt8(ascii: "/") {
                if length == 0 || (dotsOnly && length <= 2) { return false }
                length = 0
                dotsOnly = true
            } else {
                length += 1
                if c != UInt8(ascii: ".") { dotsOnly = false }
            }
        }
        return length > 0 && !(dotsOnly && length <= 2)
    }

    static func field(_ b: UnsafeRawBufferPointer, _ at: Int, _ length: Int) -> String {
        var end = at
        while end < at + length && b[end] != 0 { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: b[at..<end]), as: UTF8.self)
    }

    /// Octal (space/NUL padded) or GNU base-256 (high bit set) numbers.
    static func number(_ b: UnsafeRawBufferPointer, _ at: Int, _ length: Int) -> UInt64? {
        if b[at] & 0x80 != 0 {
            var v: UInt64 = UInt64(b[at] & 0x7f)
            for k in (at + 1)..<(at + length) {
                guard v >> 56 == 0 else { return nil }
                v = v << 8 | UInt64(b[k])
            }
            return v
        }
        var v: UInt64 = 0
        var any = false
        for k in at..<(at + length) {
            let c = b[k]
            if c == 0 || c == 32 {
                if any { break } else { continue }
            }
            guard c >= 48 && c <= 55, v >> 60 == 0 else { return nil }
            v = v * 8 + UInt64(c - 48)
            any = true
        }
        return v
    }

    static func cString(_ record: [UInt8]) -> String {
        let end = record.firstIndex(of: 0) ?? record.count
        return String(decoding: record[..<end], as: UTF8.self)
    }

    /// PAX records: `<length> <key>=<value>\n`.
    static func parsePax(_ record: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        var i = 0
        while i < record.count {
            guard let space = record[i...].firstIndex(of: 32),
                  let length = Int(String(decoding: record[i..<space], as: UTF8.self)), length > 0,
                  i + length <= record.count
            else { break }
            let body = record[(space + 1)..<(i + length)]
            if let eq = body.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: body[body.startIndex..<eq], as: UTF8.self)
                var valueEnd = body.endIndex
                if valueEnd > eq + 1 && record[valueEnd - 1] == 10 { valueEnd -= 1 }
                out[key] = String(decoding: record[(eq + 1)..<valueEnd], as: UTF8.self)
            }
            i += length
        }
        return out
    }
}
