/// Why bytes could not be read as an ELF file: what is wrong and at which file offset.
/// The reader never traps on bad input; every problem ends up here.
public struct ELFError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Not an ELF file at all (no `\u{7f}ELF` magic).
        case notELF
        /// An ELF class, byte order or version this reader does not know.
        case unsupported
        /// A header, table or string lies (partly) outside the file.
        case truncated
        /// A value that cannot be right (entry sizes too small, chains that loop, bad indexes).
        case malformed
    }

    public var kind: Kind
    public var message: String
    /// File offset of the structure concerned, when known.
    public var offset: UInt64?

    public init(_ kind: Kind, _ message: String, offset: UInt64? = nil) {
        self.kind = kind
        self.message = message
        self.offset = offset
    }

    public var description: String {
        let at = offset.map { " (at file offset 0x\(String($0, radix: 16)))" } ?? ""
        switch kind {
        case .notELF: return "not an ELF file: \(message)"
        case .unsupported: return "unsupported ELF file: \(message)\(at)"
        case .truncated: return "truncated ELF file: \(message)\(at); the file may be damaged or cut short"
        case .malformed: return "malformed ELF file: \(message)\(at)"
        }
    }
}
