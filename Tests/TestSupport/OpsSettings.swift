import Foundation

/// The settings files that ops/ scripts write for the tests (`KEY=value` lines: git-server.env,
/// registries.env, swarm-multinode.env) in the ops state directory, `$BERTH_OPS_STATE` or
/// /var/lib/berth-ops as in the scripts.
public enum OpsSettings {
    public static var stateDirectory: String {
        ProcessInfo.processInfo.environment["BERTH_OPS_STATE"] ?? "/var/lib/berth-ops"
    }

    /// `<state>/<name>.env`.
    public static func path(_ name: String) -> String { stateDirectory + "/" + name + ".env" }

    /// The values in `<state>/<name>.env`; nil when the file is not there (the service was
    /// never started).
    public static func read(_ name: String) -> [String: String]? {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }
}
