import Foundation

/// Where Berth keeps git mirrors, snapshots, the blob cache and its database.
enum StateDirectory {
    /// The flag, else $BERTH_STATE_DIR, else /var/lib/berth as root, else ~/.local/state/berth.
    static func resolve(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let flag { return URL(fileURLWithPath: flag) }
        if let dir = environment["BERTH_STATE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/berth") }
        return URL(fileURLWithPath: (environment["HOME"] ?? "/tmp") + "/.local/state/berth")
    }
}
