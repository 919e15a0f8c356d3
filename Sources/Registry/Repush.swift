import FoundationEssentials
import Glibc
import Logging

extension RegistryClient {
    /// Pushes an image again from the blob cache alone, without reading its layers: when
    /// `cache` holds what an earlier push of the engine image `imageID` (its config digest) in
    /// `format` wrote, the manifest under `ref` and every blob are checked with HEAD requests
    /// (the blobs in parallel). All there and the tag naming that manifest: nothing else is
    /// sent. Blobs missing here but held by another repository of the registry are mounted; a
    /// missing or moved tag gets the recorded manifest. The cache is never trusted without
    /// the registry's word.
    /// - Returns: nil when the registry lacks a blob the cache cannot mount, or the cache has
    ///   no record; the caller then pushes in full (export, compress, upload).
    public func repush(
        imageID: String, to ref: ImageReference, format: ManifestFormat = .docker, cache: BlobCache
    ) async throws -> PushResult? {
        try await explainingRefusedCredentials(ref.registry) {
            try await repushRecord(imageID: imageID, to: ref, format: format, cache: cache)
        }
    }

    private func repushRecord(
        imageID: String, to ref: ImageReference, format: ManifestFormat, cache: BlobCache
    ) async throws -> PushResult? {
        guard let record = await cache.image(imageID, format: format) else { return nil }
        guard Digest.of(record.manifest) == record.digest else {
            await cache.forgetImage(imageID, format: format)
            return nil
        }
        // A digest reference naming other bytes: the full path explains the mismatch.
        if ref.tag == nil, let pinned = ref.digest, pinned != record.digest { return nil }

        // One request alone first: a registry with auth answers it with its challenge, so the
        // parallel ones below carry credentials from the start.
        let tagged = try await manifestDigest(of: ref)

        var blobs: [(digest: String, size: Int64)] = [(record.config.digest, record.config.size)]
        for l in record.layers where !blobs.contains(where: { $0.digest == l.digest }) { blobs.append((l.digest, l.size)) }
        let actions = try await withThrowingTaskGroup(of: (String, BlobAction?).self) { group in
            for blob in blobs {
                group.addTask {
                    if try await self.blobExists(blob.digest, in: ref) != nil { return (blob.digest, .skipped) }
                    let from = await cache.repositories(holding: blob.digest)
                    if !from.isEmpty, try await self.mount(blob.digest, into: ref, candidates: from) {
                        return (blob.digest, .mounted)
                    }
                    return (blob.digest, nil)
                }
            }
            var out: [String: BlobAction] = [:]
            for try await (digest, action) in group {
                guard let action else {
                    logger.info("blob missing from the registry; pushing in full", metadata: ["digest": "\(digest)"])
                    group.cancelAll()
                    return [String: BlobAction]?.none
                }
                out[digest] = action
            }
            return out
        }
        guard let actions else { return nil }

        if tagged != record.digest {
            _ = try await putManifest(record.manifest, mediaType: record.mediaType, to: ref)
        }
        for blob in blobs { await cache.recordLocation(digest: blob.digest, repository: ref.name) }
        do { try await cache.save() } catch { logger.warning("blob cache not saved", metadata: ["error": "\(error)"]) }
        logger.info("pushed from the cache", metadata: [
            "reference": "\(ref)", "digest": "\(record.digest)", "manifest": "\(tagged == record.digest ? "present" : "stored")",
        ])
        let layers = record.layers.map {
            PushedLayer(diffID: $0.diffID, digest: $0.digest, size: $0.size, action: actions[$0.digest] ?? .skipped,
                compressed: false)
        }
        let all = blobs.map { actions[$0.digest] ?? .skipped }
        return PushResult(
            reference: ref, digest: record.digest, manifestSize: record.manifest.count, mediaType: record.mediaType,
            configDigest: record.config.digest, layers: layers, bytesUploaded: 0,
            blobsSkipped: all.filter { $0 == .skipped }.count, blobsMounted: all.filter { $0 == .mounted }.count,
            blobsUploaded: 0, layersCompressed: 0, fromRecord: true, manifestStored: tagged != record.digest)
    }
}
