import Foundation
import Testing
import TestSupport

@testable import Registry

@Suite(.serialized) struct PushTests {
    @Test func pushesBusyboxThenSkipsThenMounts() async throws {
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let client = makeClient()
        let ref = try uniqueRef()

        // First push: everything uploaded, and the image is valid to other tools.
        let first = try await client.push(saveTarball: busyboxTarball, image: busyboxImage, to: ref,
            cache: BlobCache(directory: cacheDir))
        #expect(first.blobsUploaded == 2)
        #expect(first.layersCompressed == 1)
        #expect(first.bytesUploaded > 100_000)
        #expect(first.mediaType == "application/vnd.docker.distribution.manifest.v2+json")
        let inspected = try skopeoInspect(ref)
        #expect(inspected.Digest == first.digest)
        #expect(inspected.Layers == first.layers.map(\.digest))
        #expect(try await client.manifestDigest(of: ref) == first.digest)
        #expect(try await client.blobExists(first.layers[0].digest, in: ref) == first.layers[0].size)
        #expect(FileManager.default.fileExists(atPath: cacheDir.appendingPathComponent("blob-cache.json").path))

        // docker pull checks every layer against the config's diff-ids.
        let pinned = first.pinnedReference
        let pull = try run(["docker", "pull", pinned])
        #expect(pull.status == 0, "\(pull.err)")
        let id = try run(["docker", "image", "inspect", "-f", "{{.Id}}", pinned])
        #expect(id.out.trimmingCharacters(in: .whitespacesAndNewlines) == first.configDigest)
        try run(["docker", "rmi", pinned])

        // Second push, new client, cache from disk: nothing compressed or uploaded.
        let again = try await makeClient().push(saveTarball: busyboxTarball, image: busyboxImage, to: ref,
            cache: BlobCache(directory: cacheDir))
        #expect(again.digest == first.digest)
        #expect(again.bytesUploaded == 0)
        #expect(again.layersCompressed == 0)
        #expect(again.blobsSkipped == 2)

        // Another repository of the same registry: blobs mounted, not uploaded.
        let other = try uniqueRef("mounted")
        let mounted = try await makeClient().push(saveTarball: busyboxTarball, to: other, cache: BlobCache(directory: cacheDir))
        #expect(mounted.blobsMounted == 2)
        #expect(mounted.bytesUploaded == 0)
        #expect(mounted.layersCompressed == 0)
        #expect(mounted.digest == first.digest)
        #expect(try skopeoInspect(other).Digest == first.digest)
    }

    @Test func streamPushGivesTheSameDigestAsFilePush() async throws {
        let client = makeClient()
        let a = try uniqueRef("file")
        let b = try uniqueRef("stream")
        let fromFile = try await client.push(saveTarball: busyboxTarball, to: a)
        // A fresh client: no shared cache, so the stream push compresses again.
        let fromStream = try await makeClient().push(saveStream: chunkedStream(busyboxTarball), image: busyboxImage, to: b)
        #expect(fromStream.layersCompressed == 1)
        #expect(fromStream.blobsUploaded == 2)
        #expect(fromStream.digest == fromFile.digest)
        #expect(try skopeoInspect(b).Digest == fromStream.digest)
    }

    @Test func streamPushCompressesWhileReadingAndSkipsKnownLayers() async throws {
        // A small member limit sends busybox's 2 MB layer down the streaming path.
        var options = RegistryClient.Options()
        options.streamMemberLimit = 64 << 10
        options.compressor = LayerCompressor(blockSize: 64 << 10)
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let ref = try uniqueRef("streamed")
        let first = try await makeClient(options: options).push(saveStream: chunkedStream(busyboxTarball, chunk: 10_000),
            to: ref, cache: BlobCache(directory: cacheDir))
        #expect(first.layersCompressed == 1)
        #expect(first.blobsUploaded == 2)
        #expect(try skopeoInspect(ref).Digest == first.digest)
        // Same bytes as a file push with the same compressor settings.
        let viaFile = try await makeClient(options: options).push(saveTarball: busyboxTarball, to: try uniqueRef("streamed-file"))
        #expect(viaFile.digest == first.digest)
        // Again: the member was seen before and its blob is there, so it is only hashed.
        let again = try await makeClient(options: options).push(saveStream: chunkedStream(busyboxTarball), to: ref,
            cache: BlobCache(directory: cacheDir))
        #expect(again.layersCompressed == 0)
        #expect(again.bytesUploaded == 0)
        #expect(again.digest == first.digest)
        // Another repository: mounted, still without compressing.
        let other = try await makeClient(options: options).push(saveStream: chunkedStream(busyboxTarball),
            to: try uniqueRef("streamed-mount"), cache: BlobCache(directory: cacheDir))
        #expect(other.layersCompressed == 0)
        #expect(other.blobsMounted == 2)
        // Truncated in the middle of the streamed layer: a clear error, nothing tagged.
        let data = try Data(contentsOf: busyboxTarball)
        let cut = try tempDir()
        defer { try? FileManager.default.removeItem(at: cut) }
        let cutFile = cut.appendingPathComponent("cut.tar")
        try data.prefix(data.count / 2).write(to: cutFile)
        let cutRef = try uniqueRef("streamed-cut")
        await #expect {
            try await makeClient(options: options).push(saveStream: chunkedStream(cutFile), to: cutRef)
        } throws: { e in
            (e as? RegistryError)?.kind == .badTarball && "\(e)".contains("truncated")
        }
        #expect(try await makeClient().manifestDigest(of: cutRef) == nil)
    }

    @Test func pushByImageIDFromAnExportWithoutTags() async throws {
        let id = try run(["docker", "image", "inspect", "-f", "{{.Id}}", busyboxImage]).out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("sha256:"))
        let ref = try uniqueRef("byid")
        let r = try await makeClient().push(saveStream: dockerSaveStream(id), image: id, to: ref)
        #expect(r.configDigest == id)
        #expect(try skopeoInspect(ref).Digest == r.digest)
        // A short id works too.
        let short = String(id.dropFirst(7).prefix(12))
        let again = try await makeClient().push(saveStream: dockerSaveStream(short), image: short, to: ref)
        #expect(again.digest == r.digest)
    }

    @Test func ociManifestOnRequest() async throws {
        let ref = try uniqueRef("oci")
        let r = try await makeClient().push(saveTarball: busyboxTarball, to: ref, format: .oci)
        #expect(r.mediaType == "application/vnd.oci.image.manifest.v1+json")
        let raw = try run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(ref)"])
        #expect(raw.status == 0)
        #expect(raw.out.contains("application/vnd.oci.image.layer.v1.tar+gzip"))
        #expect(try skopeoInspect(ref).Digest == r.digest)
        let fetched = try await makeClient().manifest(of: ref)
        #expect(fetched.digest == r.digest)
        #expect(fetched.mediaType == "application/vnd.oci.image.manifest.v1+json")
    }

    @Test func chunkedUploadOfBigBlobs() async throws {
        // Force PATCH chunks on a small image: blobs over 100 KB go in 64 KB chunks.
        var options = RegistryClient.Options()
        options.monolithicLimit = 100_000
        options.chunkSize = 64 << 10
        let ref = try uniqueRef("chunked")
        let r = try await makeClient(options: options).push(saveTarball: busyboxTarball, to: ref)
        #expect(r.layers[0].size > 100_000)
        #expect(r.blobsUploaded == 2)
        #expect(try skopeoInspect(ref).Digest == r.digest)
    }

    @Test func pushByDigestReference() async throws {
        let tagged = try uniqueRef("bydigest")
        let r = try await makeClient().push(saveTarball: busyboxTarball, to: tagged)
        let byDigest = ImageReference(registry: tagged.registry, repository: tagged.repository, digest: r.digest)
        let again = try await makeClient().push(saveTarball: busyboxTarball, to: byDigest)
        #expect(again.digest == r.digest)
        let wrong = ImageReference(registry: tagged.registry, repository: tagged.repository,
            digest: "sha256:" + String(repeating: "0", count: 64))
        await #expect(throws: RegistryError.self) { try await makeClient().push(saveTarball: busyboxTarball, to: wrong) }
    }
}

@Suite struct BadInputTests {
    func copyTarball() throws -> (URL, Data) {
        let dir = try tempDir()
        let url = dir.appendingPathComponent("image.tar")
        let data = try Data(contentsOf: busyboxTarball)
        return (url, data)
    }

    /// Where the layer's data starts in the tarball.
    func layerOffset(_ data: Data) throws -> Int {
        let archive = try SaveArchive.index(file: busyboxTarball.path)
        let entry = try archive.manifest()[0]
        guard case .region(_, let offset, _) = archive.resolve(entry.Layers[0]) else {
            throw RegistryError(.badTarball, "no layer")
        }
        return Int(offset)
    }

    @Test func corruptLayerIsRefusedAndNothingIsTagged() async throws {
        let (url, original) = try copyTarball()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var data = original
        let at = try layerOffset(data) + 5000
        data[at] ^= 0xff
        try data.write(to: url)
        let ref = try uniqueRef("corrupt")
        let client = makeClient()
        do {
            _ = try await client.push(saveTarball: url, to: ref)
            Issue.record("pushed a corrupt tarball")
        } catch let e as RegistryError {
            #expect(e.kind == .badTarball)
            #expect(e.description.contains("diff-id"))
            #expect(e.description.contains("export the image again"))
        }
        #expect(try await client.manifestDigest(of: ref) == nil)
    }

    @Test func truncatedTarball() async throws {
        let (url, original) = try copyTarball()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try original.prefix(original.count / 2).write(to: url)
        let ref = try uniqueRef("truncated")
        await #expect {
            try await makeClient().push(saveTarball: url, to: ref)
        } throws: { e in
            guard let e = e as? RegistryError else { return false }
            return e.kind == .badTarball && e.description.contains("truncated")
        }
        await #expect {
            try await makeClient().push(saveStream: chunkedStream(url), to: ref)
        } throws: { e in
            guard let e = e as? RegistryError else { return false }
            return e.kind == .badTarball && e.description.contains("truncated")
        }
        #expect(try await makeClient().manifestDigest(of: ref) == nil)
    }

    @Test func notATarball() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("not.tar")
        try Data(repeating: 0x41, count: 4096).write(to: url)
        await #expect {
            try await makeClient().push(saveTarball: url, to: try uniqueRef("nottar"))
        } throws: { e in
            (e as? RegistryError)?.kind == .badTarball && "\(e)".contains("not a tar archive")
        }
        await #expect {
            try await makeClient().push(saveTarball: dir.appendingPathComponent("missing.tar"), to: try uniqueRef("missing"))
        } throws: { e in
            (e as? RegistryError)?.kind == .io && "\(e)".contains("missing.tar")
        }
    }

    @Test func unknownImageListsWhatIsThere() async throws {
        await #expect {
            try await makeClient().push(saveTarball: busyboxTarball, image: "berth.local/nope:1", to: try uniqueRef("unknown"))
        } throws: { e in
            guard let e = e as? RegistryError else { return false }
            return e.kind == .imageNotInTarball && e.description.contains("berth.local/nope:1")
                && e.description.contains("berth.local/busybox:latest")
        }
    }

    @Test func unreachableRegistry() async throws {
        let ref = try ImageReference.parse("127.0.0.1:1/berth-test/x:1")
        var options = RegistryClient.Options()
        options.maxAttempts = 2
        options.initialBackoff = .milliseconds(10)
        await #expect {
            try await makeClient(options: options).push(saveTarball: busyboxTarball, to: ref)
        } throws: { e in
            guard let e = e as? RegistryError else { return false }
            return e.kind == .transport && e.description.contains("127.0.0.1:1") && e.description.contains("listening")
        }
    }
}
