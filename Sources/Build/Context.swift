import Platform
// The build context as a deterministic tar: the same tree always gives the same bytes, so its
// digest says whether a build is needed. Entries are in sorted walk order with mtime 0 and
// owner 0:0; modes are kept; symlinks stay symlinks but may not point outside the context.

import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A build context written to a tar file.
public struct BuildContextArchive: Sendable, Equatable {
    /// Where the tar was written.
    public var path: String
    /// `sha256:<hex>` of the tar bytes.
    public var digest: String
    /// Size of the tar in bytes.
    public var size: Int64
    /// The archived paths in order (directories end with `/`).
    public var entries: [String]
}

/// A file added to a build context that is not in its directory.
public struct GeneratedFile: Sendable, Equatable {
    /// Path inside the context, relative, without `..`.
    public var name: String
    public var contents: [UInt8]
    public var mode: UInt32

    public init(name: String, contents: [UInt8], mode: UInt32 = 0o644) {
        self.name = name
        self.contents = contents
        self.mode = mode
    }
}

/// Writes build contexts.
public enum BuildContext {
    /// Archives `directory` into a tar at `tarPath`, honouring `<directory>/.dockerignore`.
    /// `dockerfile` (relative to the context) and `.dockerignore` are always included.
    /// Refuses any symlink that resolves outside the context, naming it.
    /// `generated` files are added after the walk (and any same-named file in the directory is
    /// left out): a `dockerfile_inline`, or a Dockerfile kept outside the context.
    public static func write(directory: String, dockerfile: String = "Dockerfile", generated: [GeneratedFile] = [],
                             to tarPath: String) throws(BuildContextError) -> BuildContextArchive {
        guard let root = realPath(directory) else {
            throw BuildContextError(location: directory, message: "build context directory not found",
                                    hint: "Check the service's build.context path.")
        }
        guard isDirectory(root) else {
            throw BuildContextError(location: directory, message: "build context is not a directory",
                                    hint: "Point build.context at a directory.")
        }
        let dockerfilePath = dockerCleanPath(dockerfile)
        if dockerfilePath.hasPrefix("../") || dockerfilePath == ".." || dockerfilePath.hasPrefix("/") {
            throw BuildContextError(location: dockerfile, message: "the Dockerfile is outside the build context \(directory)",
                                    hint: "Move the Dockerfile into the context, or widen build.context.")
        }
        let generatedNames = Set(generated.map { dockerCleanPath($0.name) })
        guard generatedNames.contains(dockerfilePath) || lstatMode(root + "/" + dockerfilePath) != nil else {
            throw BuildContextError(location: "\(directory)/\(dockerfilePath)", message: "Dockerfile not found in the build context",
                                    hint: "Check build.dockerfile (relative to build.context).")
        }

        var patterns: [String] = []
        if let text = readSmallFile(root + "/.dockerignore") {
            patterns = DockerIgnore.lines(of: text)
        }
        var ignore = try DockerIgnore(patterns: patterns, source: "\(directory)/.dockerignore")
        // Like the docker CLI: keep the Dockerfile and .dockerignore even when ignored.
        if ignore.excludes(".dockerignore") { patterns.append("!.dockerignore") }
        if ignore.excludes(dockerfilePath) && !generatedNames.contains(dockerfilePath) { patterns.append("!" + dockerfilePath) }
        // A generated file replaces whatever the directory holds under its name.
        patterns += generatedNames.sorted().map { "/" + $0 }
        ignore = try DockerIgnore(patterns: patterns, source: "\(directory)/.dockerignore")

        let output = try TarOutput(path: tarPath)
        var walker = Walker(root: root, displayRoot: directory, ignore: ignore, output: output)
        do {
            try walker.walk("")
            for file in generated.sorted(by: { $0.name < $1.name }) {
                let name = dockerCleanPath(file.name)
                try output.add(TarHeader(name: name, mode: file.mode, size: Int64(file.contents.count), type: .file, linkName: ""))
                try output.append(file.contents)
                let padding = (512 - file.contents.count % 512) % 512
                if padding > 0 { try output.append([UInt8](repeating: 0, count: padding)) }
                walker.entries.append(name)
            }
            try output.finish()
        } catch {
            output.abandon()
            throw error
        }
        return BuildContextArchive(path: tarPath, digest: output.digest, size: output.size, entries: walker.entries)
    }
}

// MARK: - Walking

private struct Walker {
    let root: String
    let displayRoot: String
    let ignore: DockerIgnore
    let output: TarOutput
    var entries: [String] = []

    init(root: String, displayRoot: String, ignore: DockerIgnore, output: TarOutput) {
        self.root = root
        self.displayRoot = displayRoot
        self.ignore = ignore
        self.output = output
    }

    mutating func walk(_ relativeDir: String) throws(BuildContextError) {
        let names = try listDirectory(relativeDir.isEmpty ? root : root + "/" + relativeDir, display: relativeDir)
        for name in names {
            let rel = relativeDir.isEmpty ? name : relativeDir + "/" + name
            let full = root + "/" + rel
            guard let st = lstatInfo(full) else {
                throw BuildContextError(location: rel, message: "cannot read file information: \(errnoText())",
                                        hint: "Check the file's permissions.")
            }
            let type = st.mode & UInt32(S_IFMT)
            let isDir = type == UInt32(S_IFDIR)
            if ignore.excludes(rel) {
                if isDir && ignore.hasExceptions && ignore.mayReinclude(below: rel) {
                    try walk(rel)
                }
                continue
            }
            let mode = st.mode & 0o7777
            switch type {
            case UInt32(S_IFDIR):
                try output.add(TarHeader(name: rel + "/", mode: mode, size: 0, type: .directory, linkName: ""))
                entries.append(rel + "/")
                try walk(rel)
            case UInt32(S_IFREG):
                try output.add(TarHeader(name: rel, mode: mode, size: st.size, type: .file, linkName: ""))
                try output.copyFile(full, size: st.size, display: rel)
                entries.append(rel)
            case UInt32(S_IFLNK):
                guard let target = readLink(full) else {
                    throw BuildContextError(location: rel, message: "cannot read symlink: \(errnoText())")
                }
                try checkSymlink(rel, target: target)
                try output.add(TarHeader(name: rel, mode: mode, size: 0, type: .symlink, linkName: target))
                entries.append(rel)
            default:
                // Sockets, pipes and devices have no place in an image build context.
                continue
            }
        }
    }

    /// Follows `target` component by component (through further symlinks inside the context)
    /// and refuses it as soon as it would leave the context.
    func checkSymlink(_ rel: String, target: String) throws(BuildContextError) {
        func escape(_ why: String) -> BuildContextError {
            BuildContextError(location: "\(displayRoot)/\(rel)",
                              message: "symlink -> \(target) \(why), outside the build context",
                              hint: "Build contexts may only hold symlinks that stay inside them; replace the link with the file it points to, or make it relative within the context.")
        }
        if target.hasPrefix("/") { throw escape("is absolute and resolves on the build host") }
        var stack = rel.split(separator: "/").map(String.init)
        stack.removeLast()
        var pending = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." { continue }
            if part == ".." {
                guard !stack.isEmpty else { throw escape("resolves above the context directory") }
                stack.removeLast()
                continue
            }
            stack.append(part)
            let full = root + "/" + stack.joined(separator: "/")
            if let st = lstatInfo(full), st.mode & UInt32(S_IFMT) == UInt32(S_IFLNK) {
                hops += 1
                guard hops <= 40, let next = readLink(full) else {
                    throw BuildContextError(location: "\(displayRoot)/\(rel)", message: "too many levels of symlinks",
                                            hint: "Break the symlink loop.")
                }
                if next.hasPrefix("/") {
                    throw escape("leads through \(stack.joined(separator: "/")) -> \(next), which is absolute")
                }
                stack.removeLast()
                pending = next.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + pending
            }
        }
    }
}

// MARK: - Tar

fileprivate enum TarType: UInt8 {
    case file = 0x30       // '0'
    case symlink = 0x32    // '2'
    case directory = 0x35  // '5'
    case pax = 0x78        // 'x'
}

fileprivate struct TarHeader {
    var name: String
    var mode: UInt32
    var size: Int64
    var type: TarType
    var linkName: String

    /// The header block(s): a PAX header first when a name or size does not fit ustar.
    func encode() -> [UInt8] {
        var pax: [(String, String)] = []
        let nameBytes = Array(name.utf8)
        let split = ustarSplit(nameBytes)
        if split == nil || !name.allSatisfy(\.isASCII) { pax.append(("path", name)) }
        let linkBytes = Array(linkName.utf8)
        if linkBytes.count > 100 || !linkName.allSatisfy(\.isASCII) { pax.append(("linkpath", linkName)) }
        if size > 0o77777777777 { pax.append(("size", String(size))) }

        var out: [UInt8] = []
        if !pax.isEmpty {
            var records: [UInt8] = []
            for (key, value) in pax.sorted(by: { $0.0 < $1.0 }) {
                let body = " \(key)=\(value)\n"
                let bodyCount = body.utf8.count
                // The length prefix counts itself.
                var length = bodyCount + String(bodyCount).count
                if String(length).count != String(bodyCount).count { length = bodyCount + String(length).count }
                records += Array(String(length).utf8) + Array(body.utf8)
            }
            let paxName = Array(("PaxHeaders.0/" + lastComponent(name)).utf8.prefix(100))
            out += block(name: paxName, prefix: [], mode: 0o644, size: Int64(records.count), type: .pax, link: [])
            out += records
            out += [UInt8](repeating: 0, count: (512 - records.count % 512) % 512)
        }
        let (prefix, short) = split ?? ([], Array(nameBytes.prefix(100)))
        out += block(name: short, prefix: prefix, mode: mode, size: size > 0o77777777777 ? 0 : size,
                     type: type, link: Array(linkBytes.prefix(100)))
        return out
    }

    private func lastComponent(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/").last.map(String.init) ?? trimmed
    }

    /// Splits a long name into ustar's prefix (≤155) and name (≤100) at a `/`.
    private func ustarSplit(_ bytes: [UInt8]) -> ([UInt8], [UInt8])? {
        if bytes.count <= 100 { return ([], bytes) }
        if bytes.count > 256 { return nil }
        for i in stride(from: min(bytes.count - 1, 155), through: 1, by: -1) where bytes[i] == UInt8(ascii: "/") {
            let name = Array(bytes[(i + 1)...])
            if name.count <= 100 && !name.isEmpty { return (Array(bytes[..<i]), name) }
        }
        return nil
    }

    private func block(name: [UInt8], prefix: [UInt8], mode: UInt32, size: Int64, type: TarType, link: [UInt8]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (i, v) in bytes.enumerated() { b[offset + i] = v }
        }
        func octal(_ value: Int64, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0)
        put(octal(Int64(mode), width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(0, width: 12), at: 136)
        b[156] = type.rawValue
        put(link, at: 157)
        put(Array("ustar\0".utf8), at: 257)
        put(Array("00".utf8), at: 263)
        put(octal(0, width: 8), at: 329)
        put(octal(0, width: 8), at: 337)
        put(prefix, at: 345)
        // Checksum: the sum of all bytes with the checksum field counted as spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = b.reduce(0) { $0 + Int64($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, 0x20], at: 148)
        return b
    }
}

/// The tar file being written, hashed as it goes.
private final class TarOutput {
    let path: String
    let fd: Int32
    var hasher = SHA256()
    var buffer: [UInt8] = []
    var size: Int64 = 0
    var closed = false
    private(set) var digest = ""

    init(path: String) throws(BuildContextError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BuildContextError(location: path, message: "cannot create the context tar: \(errnoText())",
                                    hint: "Check that the directory exists and is writable.")
        }
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        if !closed { close(fd) }
    }

    func add(_ header: TarHeader) throws(BuildContextError) {
        try append(header.encode())
    }

    func append(_ bytes: [UInt8]) throws(BuildContextError) {
        buffer += bytes
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws(BuildContextError) {
        guard !buffer.isEmpty else { return }
        hasher.update(data: buffer)
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildContextError(location: path, message: "cannot write the context tar: \(errnoText())",
                                        hint: "Check free disk space.")
            }
            offset += n
        }
        size += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Streams a regular file's bytes, padded to the block size.
    func copyFile(_ full: String, size expected: Int64, display: String) throws(BuildContextError) {
        let input = open(full, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw BuildContextError(location: display, message: "cannot open file: \(errnoText())",
                                    hint: "Make the file readable, or list it in .dockerignore.")
        }
        defer { close(input) }
        var remaining = expected
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while remaining > 0 {
            let want = Int(min(Int64(chunk.count), remaining))
            let n = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildContextError(location: display, message: "cannot read file: \(errnoText())")
            }
            if n == 0 {
                throw BuildContextError(location: display, message: "file shrank while the context was archived",
                                        hint: "Archive a snapshot that nothing writes to.")
            }
            try append(Array(chunk[..<n]))
            remaining -= Int64(n)
        }
        let padding = Int((512 - expected % 512) % 512)
        if padding > 0 { try append([UInt8](repeating: 0, count: padding)) }
    }

    func finish() throws(BuildContextError) {
        try append([UInt8](repeating: 0, count: 1024))
        try flush()
        closed = true
        if close(fd) != 0 {
            throw BuildContextError(location: path, message: "cannot close the context tar: \(errnoText())")
        }
        digest = "sha256:" + Hex.string(hasher.finalize())
    }

    func abandon() {
        if !closed { close(fd); closed = true }
        unlink(path)
    }
}

// MARK: - POSIX helpers

fileprivate struct FileInfo {
    var mode: UInt32
    var size: Int64
}

fileprivate func lstatInfo(_ path: String) -> FileInfo? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return FileInfo(mode: UInt32(st.st_mode), size: Int64(st.st_size))
}

fileprivate func lstatMode(_ path: String) -> UInt32? { lstatInfo(path)?.mode }

fileprivate func isDirectory(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    return UInt32(st.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR)
}

fileprivate func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

fileprivate func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4097)
    let n = readlink(path, &buffer, 4096)
    guard n >= 0 else { return nil }
    return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

fileprivate func errnoText() -> String { String(cString: strerror(errno)) }

fileprivate func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data += chunk[..<n]
    }
    return String(decoding: data, as: UTF8.self)
}

/// Entry names in byte order (the order Go's filepath.Walk uses), `.`/`..` left out.
fileprivate func listDirectory(_ path: String, display: String) throws(BuildContextError) -> [String] {
    guard let dir = opendir(path) else {
        throw BuildContextError(location: display.isEmpty ? path : display,
                                message: "cannot list directory: \(errnoText())",
                                hint: "Make the directory readable, or list it in .dockerignore.")
    }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            Array(raw.prefix { $0 != 0 })
        }
        if name == [0x2E] || name == [0x2E, 0x2E] { continue }
        names.append(name)
    }
    var result: [String] = []
    for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
        guard let text = String(validating: name, as: UTF8.self) else {
            throw BuildContextError(location: display.isEmpty ? path : display,
                                    message: "a file name is not valid UTF-8: \(name)",
                                    hint: "Rename the file.")
        }
        result.append(text)
    }
    return result
}
