import Foundation
import Store
import TestSupport
import Testing

@Suite struct StoreTests {
    @Test func releasesAreNumberedNewestFirstAndDeduplicated() async throws {
        let store = try Store(path: nil)
        let a = try await store.recordRelease(Release(app: "web", commit: "aaa", images: ["svc": "sha256:1"]))
        let again = try await store.recordRelease(Release(app: "web", commit: "aaa", images: ["svc": "sha256:1"]))
        #expect(again.id == a.id, "same commit and images is the same release")
        let b = try await store.recordRelease(Release(app: "web", commit: "bbb", images: ["svc": "sha256:2"]))
        _ = try await store.recordRelease(Release(app: "other", commit: "ccc", images: [:]))
        let list = try await store.releases(app: "web")
        #expect(list.map(\.commit) == ["bbb", "aaa"])
        #expect(try #require(b.id) > (try #require(a.id)))
        let fetched = try await store.release(id: try #require(a.id))
        #expect(fetched?.images == ["svc": "sha256:1"])
        // Going back to an older commit is a new release, so rollbacks show up in the history.
        let back = try await store.recordRelease(Release(app: "web", commit: "aaa", images: ["svc": "sha256:1"]))
        #expect(back.id != a.id)
    }

    @Test func runsRecordOutcomeAndLastSuccessSkipsFailures() async throws {
        let store = try Store(path: nil)
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        _ = try await store.recordRun(SyncRun(app: "web", trigger: "startup", startedAt: t0, finishedAt: t0, commit: "aaa",
                                              outcome: .deployed, changes: 1))
        let failed = try await store.recordRun(SyncRun(app: "web", trigger: "webhook", startedAt: t0, finishedAt: t0,
                                                       commit: "bbb", outcome: .failed, error: "compose.yaml:3:5: bad"))
        #expect(failed.id != nil)
        let runs = try await store.runs(app: "web")
        #expect(runs.map(\.outcome) == [.failed, .deployed])
        #expect(runs.first?.error == "compose.yaml:3:5: bad")
        #expect(runs.first?.finishedAt == t0)
        #expect(try await store.lastSuccess(app: "web")?.commit == "aaa")
        #expect(try await store.lastSuccess(app: "nope") == nil)
    }

    @Test func controlsAndEventsPersistAcrossReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-store"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/berth.sqlite").path
        do {
            let store = try Store(path: path)
            #expect(try await store.control(app: "web") == AppControl(app: "web"))
            try await store.setControl(AppControl(app: "web", suspended: true, pinnedRelease: 7))
            try await store.recordEvent(Event(app: "web", kind: "suspend", message: "syncing suspended"))
        }
        let reopened = try Store(path: path)
        #expect(try await reopened.control(app: "web") == AppControl(app: "web", suspended: true, pinnedRelease: 7))
        #expect(try await reopened.events(app: "web").map(\.kind) == ["suspend"])
    }

    @Test func unwritableLocationSaysWhereAndWhatToDo() throws {
        let error = #expect(throws: StoreError.self) { try Store(path: "/proc/berth-no/berth.sqlite") }
        #expect(error?.description.contains("/proc/berth-no/berth.sqlite") == true)
        #expect(error?.description.contains("BERTH_STATE_DIR") == true)
    }
}
