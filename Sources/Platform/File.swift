// A file descriptor with the FileHandle calls Berth makes, for the modules that use
// FoundationEssentials (see Threads.swift).
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct FileError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

public final class File: @unchecked Sendable {
    public let fileDescriptor: Int32
    private let owned: Bool
    private var closed = false

    public init(fileDescriptor: Int32, closeOnDealloc: Bool) {
        self.fileDescriptor = fileDescriptor
        owned = closeOnDealloc
    }

    public convenience init?(forReadingAtPath path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.init(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// An existing file, open for writing from its start.
    public convenience init?(forWritingAtPath path: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.init(fileDescriptor: fd, closeOnDealloc: true)
    }

    public convenience init(forWritingTo url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open \(url.path)", code: errno) }
        self.init(fileDescriptor: fd, closeOnDealloc: true)
    }

    deinit {
        if owned && !closed { Glibc.close(fileDescriptor) }
    }

    public static let standardInput = File(fileDescriptor: 0, closeOnDealloc: false)
    public static let standardOutput = File(fileDescriptor: 1, closeOnDealloc: false)
    public static let standardError = File(fileDescriptor: 2, closeOnDealloc: false)

    public func close() throws {
        guard !closed else { return }
        closed = true
        if Glibc.close(fileDescriptor) != 0 && errno != EINTR { throw FileError(operation: "close", code: errno) }
    }

    /// Up to `count` bytes; nil at the end of the file.
    public func read(upToCount count: Int) throws -> Data? {
        var out = Data(count: count)
        var filled = 0
        while filled < count {
            let n = out.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Glibc.read(fileDescriptor, base + filled, count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", code: errno)
            }
            if n == 0 { break }
            filled += n
        }
        if filled == 0 && count > 0 { return nil }
        out.count = filled
        return out
    }

    public func readToEnd() throws -> Data? {
        var out = Data()
        while let chunk = try read(upToCount: 1 << 16) { out.append(chunk) }
        return out.isEmpty ? nil : out
    }

    /// What is left, or as much as could be read before an error.
    public func readDataToEndOfFile() -> Data {
        var out = Data()
        while let chunk = try? read(upToCount: 1 << 16) { out.append(chunk) }
        return out
    }

    @discardableResult
    public func seekToEnd() throws -> UInt64 {
        let at = lseek(fileDescriptor, 0, SEEK_END)
        guard at >= 0 else { throw FileError(operation: "seek", code: errno) }
        return UInt64(at)
    }

    public func seek(toOffset offset: UInt64) throws {
        guard lseek(fileDescriptor, off_t(offset), SEEK_SET) >= 0 else { throw FileError(operation: "seek", code: errno) }
    }

    public func write(contentsOf bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fileDescriptor, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", code: errno)
            }
            done += n
        }
    }

    public func write<D: DataProtocol>(contentsOf data: D) throws {
        for region in data.regions {
            try region.withUnsafeBytes { try write(contentsOf: $0) }
        }
    }

    /// Writes what it can and drops the rest on an error: for standard output and error,
    /// where a closed pipe must not stop the command.
    public func write(_ data: Data) {
        try? write(contentsOf: data)
    }
}

/// $HOME, else the password database's home of this user, else "/": NSHomeDirectory's answer.
public func homeDirectory() -> String {
    if let home = getenv("HOME"), home.pointee != 0 { return String(cString: home) }
    if let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) }
    return "/"
}

/// A file error in words, for messages: FoundationEssentials' errors print as their structure
/// ("CocoaError(code: …, userInfo: […])"), and corelibs' localizedDescription is not there.
/// "/srv/x: No such file or directory"; other errors as they describe themselves.
public func errorText(_ error: any Error) -> String {
    if let e = error as? CocoaError {
        let reason = (e.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) }
            ?? "file error \(e.code.rawValue)"
        return e.filePath.map { "\($0): \(reason)" } ?? reason
    }
    if let e = error as? POSIXError { return String(cString: strerror(e.code.rawValue)) }
    return "\(error)"
}
