import FoundationEssentials
import Glibc

/// Where Berth keeps git mirrors, snapshots, the blob cache and its database.
package enum StateDirectory {
    /// The flag, else $BERTH_STATE_DIR, else /var/lib/berth as root, else ~/.local/state/berth.
    /// A missing directory is created 0700: mirrors of private repos, the blob cache and the
    /// database are for this user only. An existing one is left as its owner set it.
    package static func resolve(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let url = location(flag, environment: environment)
        if !FileManager.default.fileExists(atPath: url.path) {
            // Failure is reported by whoever writes there next, with its own context.
            try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        return url
    }

    static func location(_ flag: String?, environment: [String: String]) -> URL {
        if let flag { return URL(fileURLWithPath: flag) }
        if let dir = environment["BERTH_STATE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/berth") }
        return URL(fileURLWithPath: (environment["HOME"] ?? "/tmp") + "/.local/state/berth")
    }
}
