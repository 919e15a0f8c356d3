import Foundation

/// Paths and names shared by the test targets.
public enum TestPaths {
    /// The package root, found from this file's location so tests run from any directory.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/fixtures` beside the checkout, or `BERTH_FIXTURES` when set.
    public static var fixtures: URL {
        if let dir = ProcessInfo.processInfo.environment["BERTH_FIXTURES"] {
            return URL(fileURLWithPath: dir)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    public static func fixture(_ relative: String) -> URL {
        fixtures.appendingPathComponent(relative)
    }
}

public enum TestNames {
    /// A name no other test run uses, for compose projects, containers, networks and images,
    /// so test suites can run in parallel on one engine.
    public static func unique(_ prefix: String) -> String {
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10)
        return "\(prefix)-\(suffix)"
    }

    /// Label every test-made engine object carries, so `ops/clean-test-leftovers` can find them.
    public static let testLabel = "dev.berth.test"
}
