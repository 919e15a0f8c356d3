import CGit2
import FoundationEssentials
import Glibc

/// Process-wide libgit2 setup: open the library (Berth does not link it, see `GitLibrary`), then
/// `git_libgit2_init`. That is reference counted; Berth initialises once and never shuts down,
/// because objects may outlive any one caller.
enum LibGit2 {
    /// nil once libgit2 is loaded and initialised, else why it could not be loaded.
    private static let problem: String? = {
        if let problem = GitLibrary.loadProblem { return problem }
        git_libgit2_init()
        return nil
    }()

    /// Call before anything else from libgit2.
    static func initialize() throws(GitSourceError) {
        if let problem { throw GitLibrary.error(loading: problem) }
    }

    /// libgit2's last error on this thread, cleared after reading.
    static func lastError() -> (message: String, klass: Int32) {
        guard let error = git_error_last() else { return ("unknown libgit2 error", 0) }
        let message = error.pointee.message.map { String(cString: $0) } ?? "unknown libgit2 error"
        let klass = error.pointee.klass
        git_error_clear()
        return (message, klass)
    }

    /// Turns a negative libgit2 return code into a `GitSourceError`.
    static func check(_ code: Int32, _ kind: GitSourceError.Kind, _ what: @autoclosure () -> String,
                      hint: @autoclosure () -> String = "") throws(GitSourceError) {
        guard code < 0 else { return }
        throw error(code, kind, what(), hint: hint())
    }

    static func error(_ code: Int32, _ kind: GitSourceError.Kind, _ what: String,
                      hint: String = "") -> GitSourceError {
        let last = lastError()
        var e = GitSourceError(kind: kind, message: "\(what): \(last.message)", hint: hint)
        e.libgit2 = (last.klass, code)
        return e
    }
}

// MARK: handles

/// Owns a `git_repository`.
final class Repository {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_repository_free(pointer) }

    static func openBare(_ path: String) throws(GitSourceError) -> Repository {
        try LibGit2.initialize()
        var out: OpaquePointer?
        try LibGit2.check(git_repository_open_bare(&out, path), .storage, "cannot open git mirror \(path)",
                          hint: "Remove the directory; the next fetch clones it again")
        guard let out else { throw GitSourceError(kind: .storage, message: "cannot open git mirror \(path)") }
        return Repository(out)
    }

    static func initBare(_ path: String) throws(GitSourceError) -> Repository {
        try LibGit2.initialize()
        var out: OpaquePointer?
        try LibGit2.check(git_repository_init(&out, path, 1), .storage, "cannot create git mirror \(path)",
                          hint: "Check that the state directory is writable")
        guard let out else { throw GitSourceError(kind: .storage, message: "cannot create git mirror \(path)") }
        return Repository(out)
    }

    /// The object a full or abbreviated hex id names, or nil when there is none.
    func lookup(prefix hex: String) throws(GitSourceError) -> Object? {
        var oid = git_oid()
        guard git_oid_fromstrn(&oid, hex, hex.utf8.count) == 0 else { git_error_clear(); return nil }
        var out: OpaquePointer?
        let code = git_object_lookup_prefix(&out, pointer, &oid, hex.utf8.count, GIT_OBJECT_ANY)
        if code == GIT_ENOTFOUND.rawValue { git_error_clear(); return nil }
        if code == GIT_EAMBIGUOUS.rawValue {
            git_error_clear()
            throw GitSourceError(kind: .badRef, message: "the abbreviated commit id \(hex) is ambiguous",
                                 hint: "Use more hex digits or the full 40-digit commit id")
        }
        try LibGit2.check(code, .storage, "cannot look up \(hex)")
        return out.map(Object.init)
    }

    /// The reference with this full name, or nil.
    func reference(_ name: String) throws(GitSourceError) -> Reference? {
        var out: OpaquePointer?
        let code = git_reference_lookup(&out, pointer, name)
        if code == GIT_ENOTFOUND.rawValue || code == GIT_EINVALIDSPEC.rawValue { git_error_clear(); return nil }
        try LibGit2.check(code, .storage, "cannot read reference \(name)")
        return out.map(Reference.init)
    }

    /// Every reference name in the repository.
    func referenceNames() throws(GitSourceError) -> [String] {
        var list = git_strarray()
        try LibGit2.check(git_reference_list(&list, pointer), .storage, "cannot list references")
        defer { git_strarray_dispose(&list) }
        var names: [String] = []
        for i in 0..<list.count {
            if let s = list.strings[i] { names.append(String(cString: s)) }
        }
        return names
    }

    func tree(_ oid: git_oid) throws(GitSourceError) -> Tree {
        var oid = oid
        var out: OpaquePointer?
        try LibGit2.check(git_tree_lookup(&out, pointer, &oid), .storage, "cannot read tree \(Self.hex(oid))")
        guard let out else { throw GitSourceError(kind: .storage, message: "cannot read tree \(Self.hex(oid))") }
        return Tree(out)
    }

    func blob(_ oid: git_oid) throws(GitSourceError) -> Blob {
        var oid = oid
        var out: OpaquePointer?
        try LibGit2.check(git_blob_lookup(&out, pointer, &oid), .storage, "cannot read blob \(Self.hex(oid))")
        guard let out else { throw GitSourceError(kind: .storage, message: "cannot read blob \(Self.hex(oid))") }
        return Blob(out)
    }

    static func hex(_ oid: git_oid) -> String {
        var oid = oid
        var buffer = [CChar](repeating: 0, count: Int(GIT_OID_HEXSZ) + 1)
        git_oid_fmt(&buffer, &oid)
        return String(decoding: buffer.prefix(Int(GIT_OID_HEXSZ)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Owns a `git_object` of any type.
final class Object {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_object_free(pointer) }

    var type: git_object_t { git_object_type(pointer) }
    var id: git_oid { git_object_id(pointer).pointee }

    /// The commit this object leads to (annotated tags are peeled), or nil for trees and blobs.
    func peelToCommit() -> Object? {
        var out: OpaquePointer?
        guard git_object_peel(&out, pointer, GIT_OBJECT_COMMIT) == 0, let out else { git_error_clear(); return nil }
        return Object(out)
    }

    /// The tree id of a commit object.
    var commitTreeID: git_oid? {
        guard type == GIT_OBJECT_COMMIT else { return nil }
        return git_commit_tree_id(pointer)?.pointee
    }

    /// Commit time, seconds since the epoch.
    var commitTime: Int64 { git_commit_time(pointer) }
}

/// Owns a `git_reference`.
final class Reference {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_reference_free(pointer) }

    var name: String { String(cString: git_reference_name(pointer)) }

    func peelToCommit() -> Object? {
        var out: OpaquePointer?
        guard git_reference_peel(&out, pointer, GIT_OBJECT_COMMIT) == 0, let out else { git_error_clear(); return nil }
        return Object(out)
    }
}

/// Owns a `git_tree`; entries borrowed from it live as long as it does.
final class Tree {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_free(pointer) }

    struct Entry {
        var name: String
        var id: git_oid
        var mode: git_filemode_t
    }

    var entries: [Entry] {
        (0..<git_tree_entrycount(pointer)).compactMap { i in
            guard let e = git_tree_entry_byindex(pointer, i) else { return nil }
            return Entry(name: String(cString: git_tree_entry_name(e)), id: git_tree_entry_id(e).pointee,
                         mode: git_tree_entry_filemode(e))
        }
    }
}

/// Owns a `git_blob`.
final class Blob {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_blob_free(pointer) }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: git_blob_rawcontent(pointer), count: Int(git_blob_rawsize(pointer)))
    }
}

/// Owns a `git_remote`.
final class Remote {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_remote_free(pointer) }
}
