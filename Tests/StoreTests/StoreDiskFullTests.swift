import Foundation
import Store
import TestSupport
import Testing

/// The state dir's disk fills up under a running serve: writes fail with an error that says
/// where and what to do, nothing already recorded is lost, the database stays sound, and
/// writing works again once space is freed.
@Suite struct StoreDiskFullTests {
    @Test func fullDiskFailsWritesCleanlyAndLosesNothing() async throws {
        guard getuid() == 0 else {
            Issue.record("needs root to mount a tmpfs (ops/test runs as root)")
            return
        }
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-storefull"))
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounted = try Shell.runBlocking("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount.path])
        try #require(mounted.status == 0, "mount: \(mounted.stderr)")
        defer {
            _ = try? Shell.runBlocking("/bin/umount", [mount.path])
            try? FileManager.default.removeItem(at: mount)
        }
        let path = mount.appendingPathComponent("state/berth.sqlite").path
        let store = try Store(path: path)
        let kept = try await store.recordRelease(Release(app: "web", commit: "good", images: ["svc": "sha256:1"]))
        for i in 0..<20 {
            try await store.recordEvent(Event(app: "web", kind: "sync", message: "before \(i)"))
        }

        // Fill what is left, then write until SQLite gives up.
        let filler = mount.appendingPathComponent("filler")
        _ = try Shell.runBlocking("/bin/dd", ["if=/dev/zero", "of=\(filler.path)", "bs=16k"])
        let big = String(repeating: "x", count: 64 << 10)
        var failure: StoreError?
        for i in 0..<200 {
            do {
                try await store.recordEvent(Event(app: "web", kind: "sync", message: "\(i) \(big)"))
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure, "writes kept succeeding on a full disk")
        #expect(error.description.contains(path), "\(error)")
        #expect(error.description.contains("full"), "\(error)")
        #expect(error.description.contains("BERTH_STATE_DIR"), "the error says what to check: \(error)")

        // Reads still work, and the release recorded before is intact.
        #expect(try await store.releases(app: "web").first?.commit == "good")

        try FileManager.default.removeItem(at: filler)
        try await store.recordEvent(Event(app: "web", kind: "sync", message: "after"))
        #expect(try await store.integrityCheck().isEmpty)
        let reopened = try Store(path: path)
        #expect(try await reopened.integrityCheck().isEmpty)
        #expect(try await reopened.release(id: try #require(kept.id))?.commit == "good")
        let events = try await reopened.events(app: "web", limit: 1000).map(\.message)
        #expect(events.contains("after") && events.contains("before 19"))
        let dirMode = try FileManager.default.attributesOfItem(atPath: mount.appendingPathComponent("state").path)[.posixPermissions] as? Int
        #expect(dirMode == 0o700, "the state dir Store creates is private")
    }
}
