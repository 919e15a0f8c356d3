import Foundation
import Testing
import TestSupport

@testable import Registry

/// Re-pushing an image pushed before: the cache's record, checked with HEAD requests only.
@Suite(.serialized) struct RepushTests {
    let upstream = UInt16(testRegistry.split(separator: ":").last.flatMap { UInt16($0) } ?? 5000)

    /// A pass-through proxy that only counts requests.
    func countingProxy() throws -> FaultProxy { try FaultProxy(upstreamPort: upstream) { _, _, _ in nil } }

    @Test func secondPushSendsOnlyHeadRequests() async throws {
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let proxy = try countingProxy()
        defer { proxy.stop() }
        let ref = try uniqueRef("repush", registry: proxy.address)
        let first = try await makeClient().push(saveTarball: busyboxTarball, image: busyboxImage, to: ref,
            cache: BlobCache(directory: cacheDir))
        #expect(!first.fromRecord)
        let afterFirst = proxy.log.count

        // A new process's view: new client, cache from disk, only the engine's image id known.
        let again = try await makeClient().repush(imageID: first.configDigest, to: ref, cache: BlobCache(directory: cacheDir))
        let r = try #require(again)
        let requests = Array(proxy.log.dropFirst(afterFirst))
        #expect(requests.allSatisfy { $0.hasPrefix("HEAD ") }, "\(requests)")
        // The manifest, the config and the one layer.
        #expect(requests.count == 3, "\(requests)")
        #expect(r.fromRecord && !r.manifestStored)
        #expect(r.digest == first.digest)
        #expect(r.bytesUploaded == 0 && r.blobsUploaded == 0 && r.layersCompressed == 0)
        #expect(r.layers.map(\.digest) == first.layers.map(\.digest))
        #expect(r.layers.map(\.diffID) == first.layers.map(\.diffID))

        // Another format has no record: the caller pushes in full.
        #expect(try await makeClient().repush(imageID: first.configDigest, to: ref, format: .oci,
            cache: BlobCache(directory: cacheDir)) == nil)
        // Nor has an unknown image.
        #expect(try await makeClient().repush(imageID: "sha256:" + String(repeating: "1", count: 64), to: ref,
            cache: BlobCache(directory: cacheDir)) == nil)
    }

    @Test func newTagGetsTheRecordedManifestAndNewRepositoryMountsWithoutUploading() async throws {
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let proxy = try countingProxy()
        defer { proxy.stop() }
        let ref = try uniqueRef("retag", registry: proxy.address)
        let first = try await makeClient().push(saveTarball: busyboxTarball, to: ref, cache: BlobCache(directory: cacheDir))

        // Same repository, new tag: blobs are there, only the manifest is stored.
        var mark = proxy.log.count
        let retagged = try #require(try await makeClient().repush(imageID: first.configDigest, to: ref.with(tag: "t2"),
            cache: BlobCache(directory: cacheDir)))
        var requests = Array(proxy.log.dropFirst(mark))
        #expect(retagged.manifestStored)
        #expect(requests.filter { !$0.hasPrefix("HEAD ") } == ["PUT /v2/\(ref.repository)/manifests/t2"], "\(requests)")
        #expect(try skopeoInspect(try ImageReference.parse("\(testRegistry)/\(ref.repository):t2")).Digest == first.digest)

        // Another repository: every blob mounted from the first, nothing uploaded.
        let other = try uniqueRef("remount", registry: proxy.address)
        mark = proxy.log.count
        let mounted = try #require(try await makeClient().repush(imageID: first.configDigest, to: other,
            cache: BlobCache(directory: cacheDir)))
        requests = Array(proxy.log.dropFirst(mark))
        #expect(mounted.blobsMounted == 2 && mounted.bytesUploaded == 0)
        #expect(requests.filter { $0.hasPrefix("POST ") }.allSatisfy { $0.contains("mount=") && $0.contains("from=") }, "\(requests)")
        #expect(!requests.contains { $0.hasPrefix("PATCH ") || ($0.hasPrefix("PUT ") && $0.contains("/blobs/")) }, "\(requests)")
        #expect(try skopeoInspect(try ImageReference.parse("\(testRegistry)/\(other.repository):t1")).Digest == first.digest)
    }

    @Test func fullPushMountsFromAnotherRepositoryWithoutUploading() async throws {
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let proxy = try countingProxy()
        defer { proxy.stop() }
        let a = try uniqueRef("mount-src", registry: proxy.address)
        let first = try await makeClient().push(saveTarball: busyboxTarball, to: a, cache: BlobCache(directory: cacheDir))
        let b = try uniqueRef("mount-dst", registry: proxy.address)
        let mark = proxy.log.count
        let r = try await makeClient().push(saveTarball: busyboxTarball, to: b, cache: BlobCache(directory: cacheDir))
        let requests = Array(proxy.log.dropFirst(mark))
        #expect(r.blobsMounted == 2 && r.digest == first.digest)
        #expect(requests.filter { $0.hasPrefix("POST ") && $0.contains("mount=") }.count == 2, "\(requests)")
        #expect(!requests.contains { $0.hasPrefix("PATCH ") || ($0.hasPrefix("PUT ") && $0.contains("/blobs/")) }, "\(requests)")
    }

    @Test func aBlobTheRegistryLostIsNotTrustedToTheCache() async throws {
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let ref = try uniqueRef("lost")
        let client = makeClient()
        let first = try await client.push(saveTarball: busyboxTarball, to: ref, cache: BlobCache(directory: cacheDir))
        // The registry (delete enabled by ops/setup) forgets the layer in this repository.
        let layer = first.layers[0].digest
        let deleted = try run(["curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
            "http://\(testRegistry)/v2/\(ref.repository)/blobs/\(layer)"])
        #expect(deleted.out == "202", "\(deleted.err)")
        #expect(try await client.blobExists(layer, in: ref) == nil)
        // The record names a blob it cannot mount from anywhere else: no fast path.
        #expect(try await makeClient().repush(imageID: first.configDigest, to: ref, cache: BlobCache(directory: cacheDir)) == nil)
        // The full push puts it back.
        let again = try await makeClient().push(saveTarball: busyboxTarball, to: ref, cache: BlobCache(directory: cacheDir))
        #expect(again.digest == first.digest)
        #expect(try await client.blobExists(layer, in: ref) == first.layers[0].size)
    }

    @Test func recordSurvivesOnDiskAndAForgedRecordIsDropped() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = Data(#"{"schemaVersion":2}"#.utf8)
        let cache = BlobCache(directory: dir)
        let record = BlobCache.ImageRecord(manifest: manifest, mediaType: ManifestFormat.docker.manifestMediaType,
            digest: "sha256:" + String(repeating: "a", count: 64), config: .init(digest: "sha256:c", size: 1),
            layers: [], pushedAt: 1)
        await cache.recordImage("sha256:img", format: .docker, record)
        try await cache.save()
        #expect(await BlobCache(directory: dir).image("sha256:img", format: .docker) == record)
        // Its digest does not match its bytes: ignored and forgotten, without asking the registry.
        let reloaded = BlobCache(directory: dir)
        let ref = try ImageReference.parse("127.0.0.1:1/berth-test/forged:1")
        #expect(try await makeClient().repush(imageID: "sha256:img", to: ref, cache: reloaded) == nil)
        #expect(await reloaded.image("sha256:img", format: .docker) == nil)
    }
}
