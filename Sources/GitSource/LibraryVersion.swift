import CGit2

/// The libgit2 this process uses, for `berth doctor`. Berth does not link libgit2: it opens the
/// version it was built against with dlopen on first use (see Sources/CGit2/git2_dlopen.c), so
/// commands that never touch git start faster.
public enum GitLibrary {
    /// The shared library Berth opens (libgit2.so.MAJOR.MINOR of the headers it was built with),
    /// and the Debian package that has it.
    public static let soname = "libgit2.so.\(LIBGIT2_VER_MAJOR).\(LIBGIT2_VER_MINOR)"
    public static let package = "libgit2-\(LIBGIT2_VER_MAJOR).\(LIBGIT2_VER_MINOR)"

    /// Loads libgit2 once per process: nil when it is usable, else why not (dlerror's message, or
    /// the function it lacks). Nothing in libgit2 may be called unless this is nil.
    static let loadProblem: String? = {
        var buffer = [CChar](repeating: 0, count: 512)
        guard berth_git2_load(&buffer, buffer.count) != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    static func error(loading problem: String) -> GitSourceError {
        GitSourceError(kind: .library, message: "cannot load libgit2: \(problem)",
                       hint: "Install libgit2 \(LIBGIT2_VER_MAJOR).\(LIBGIT2_VER_MINOR) as \(soname) "
                           + "(Debian/Ubuntu: apt-get install \(package))")
    }

    /// Opens libgit2 if that has not happened yet. `GitStore` does this itself (and fails with
    /// the same error); call it to find out early.
    public static func load() throws(GitSourceError) {
        if let problem = loadProblem { throw error(loading: problem) }
    }

    /// Why libgit2 could not be loaded; nil when it was.
    public static var loadError: String? { loadProblem }

    /// `major.minor.revision`, or "not loaded" when libgit2 could not be loaded.
    public static var version: String {
        guard loadProblem == nil else { return "not loaded" }
        var major: Int32 = 0, minor: Int32 = 0, rev: Int32 = 0
        _ = git_libgit2_version(&major, &minor, &rev)
        return "\(major).\(minor).\(rev)"
    }

    public static var supportsHTTPSAndSSH: (https: Bool, ssh: Bool) {
        guard loadProblem == nil else { return (false, false) }
        let features = git_libgit2_features()
        return (features & Int32(GIT_FEATURE_HTTPS.rawValue) != 0, features & Int32(GIT_FEATURE_SSH.rawValue) != 0)
    }
}
