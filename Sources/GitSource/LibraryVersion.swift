import CGit2

/// The libgit2 this process is linked with, for `berth doctor`.
public enum GitLibrary {
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, rev: Int32 = 0
        _ = git_libgit2_version(&major, &minor, &rev)
        return "\(major).\(minor).\(rev)"
    }

    public static var supportsHTTPSAndSSH: (https: Bool, ssh: Bool) {
        let features = git_libgit2_features()
        return (features & Int32(GIT_FEATURE_HTTPS.rawValue) != 0, features & Int32(GIT_FEATURE_SSH.rawValue) != 0)
    }
}
