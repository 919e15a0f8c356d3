import FoundationEssentials
import Glibc

/// Bounds-checked reads from a byte buffer. Offsets come straight from untrusted headers, so
/// every read checks the range first and all arithmetic on them is overflow-checked.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let littleEndian: Bool

    var count: UInt64 { UInt64(bytes.count) }

    /// True when `size` bytes starting at `offset` lie inside the buffer.
    func contains(_ offset: UInt64, _ size: UInt64) -> Bool {
        offset <= count && count - offset >= size
    }

    func check(_ offset: UInt64, _ size: UInt64, _ what: @autoclosure () -> String) throws(ELFError) {
        guard contains(offset, size) else {
            throw ELFError(.truncated, "\(what()) (\(size) bytes) ends past the end of the file (\(count) bytes)",
                           offset: offset)
        }
    }

    func u8(_ offset: UInt64) throws(ELFError) -> UInt8 {
        try check(offset, 1, "a byte")
        return bytes[Int(offset)]
    }

    func u16(_ offset: UInt64) throws(ELFError) -> UInt16 {
        try check(offset, 2, "a 16-bit field")
        let v = bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt16.self)
        return littleEndian ? UInt16(littleEndian: v) : UInt16(bigEndian: v)
    }

    func u32(_ offset: UInt64) throws(ELFError) -> UInt32 {
        try check(offset, 4, "a 32-bit field")
        let v = bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self)
        return littleEndian ? UInt32(littleEndian: v) : UInt32(bigEndian: v)
    }

    func u64(_ offset: UInt64) throws(ELFError) -> UInt64 {
        try check(offset, 8, "a 64-bit field")
        let v = bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self)
        return littleEndian ? UInt64(littleEndian: v) : UInt64(bigEndian: v)
    }

    /// A 32- or 64-bit address/offset/size field, widened.
    func word(_ offset: UInt64, wide: Bool) throws(ELFError) -> UInt64 {
        wide ? try u64(offset) : UInt64(try u32(offset))
    }

    /// The NUL-terminated string at `offset`, not reading past `end`. A string that runs into
    /// `end` without a NUL is an error: the table it lives in is damaged.
    func cString(_ offset: UInt64, end: UInt64, _ what: @autoclosure () -> String) throws(ELFError) -> String {
        let limit = min(end, count)
        guard offset < limit else {
            throw ELFError(.truncated, "\(what()) starts past the end of its table", offset: offset)
        }
        let start = Int(offset)
        let length = Int(limit - offset)
        guard let base = bytes.baseAddress else { throw ELFError(.truncated, "empty buffer", offset: offset) }
        guard let nul = memchr(base + start, 0, length) else {
            throw ELFError(.malformed, "\(what()) is not NUL-terminated inside its table", offset: offset)
        }
        let n = base.distance(to: UnsafeRawPointer(nul)) - start
        return String(decoding: UnsafeRawBufferPointer(start: base + start, count: n), as: UTF8.self)
    }
}

/// Overflow-checked `a + b`, as an ELF error when it wraps.
@inline(__always)
func add(_ a: UInt64, _ b: UInt64, _ what: @autoclosure () -> String) throws(ELFError) -> UInt64 {
    let (r, o) = a.addingReportingOverflow(b)
    if o { throw ELFError(.malformed, "\(what()) overflows") }
    return r
}

/// Overflow-checked `a * b`.
@inline(__always)
func mul(_ a: UInt64, _ b: UInt64, _ what: @autoclosure () -> String) throws(ELFError) -> UInt64 {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    if o { throw ELFError(.malformed, "\(what()) overflows") }
    return r
}
