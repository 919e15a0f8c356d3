/// Everything that can go wrong in GitSource: fetching, resolving a ref, writing a snapshot,
/// reading `berth.yaml`. The description says what, where (URL, ref, file:line:column) and what
/// to do. URLs in messages never carry credentials.
public struct GitSourceError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The remote could not be reached or the transfer failed.
        case fetch
        /// The remote refused the credentials, or none fit what it asked for.
        case authentication
        /// The server's host key or TLS certificate was not trusted.
        case certificate
        /// A ref that names no commit in the mirror.
        case badRef
        /// Reading the mirror or writing a snapshot failed.
        case storage
        /// `berth.yaml` or app discovery failed.
        case config
        case cancelled
        /// libgit2 could not be opened (Berth loads it on first use): not installed, or too old.
        case library
    }

    public var kind: Kind
    /// What went wrong and where.
    public var message: String
    /// What to do about it; empty when there is nothing useful to say.
    public var hint: String
    /// libgit2's error class and code, when libgit2 reported the failure.
    public var libgit2: (klass: Int32, code: Int32)? {
        get { libgit2Class.map { ($0, libgit2Code ?? 0) } }
        set { libgit2Class = newValue?.klass; libgit2Code = newValue?.code }
    }
    private var libgit2Class: Int32?
    private var libgit2Code: Int32?

    public init(kind: Kind, message: String, hint: String = "") {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var description: String {
        hint.isEmpty ? message : "\(message). \(hint)"
    }

    public static func == (lhs: GitSourceError, rhs: GitSourceError) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.hint == rhs.hint
    }
}
