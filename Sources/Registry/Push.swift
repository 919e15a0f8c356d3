import FoundationEssentials
import Platform
import Glibc
import Logging

/// One layer of a push and what happened to it.
public struct PushedLayer: Sendable, Hashable {
    public var diffID: String
    public var digest: String
    public var size: Int64
    public var action: RegistryClient.BlobAction
    /// Whether this push compressed the layer (false on a cache hit).
    public var compressed: Bool
}

/// What a push did.
public struct PushResult: Sendable {
    public var reference: ImageReference
    /// Digest of the manifest: the image as `reference.name@digest`.
    public var digest: String
    public var manifestSize: Int
    public var mediaType: String
    public var configDigest: String
    public var layers: [PushedLayer]
    /// Blob bytes sent (layers and config; not the manifest).
    public var bytesUploaded: Int64
    public var blobsSkipped: Int
    public var blobsMounted: Int
    public var blobsUploaded: Int
    /// Layers compressed by this push (the others came from the cache).
    public var layersCompressed: Int
    /// Pushed from the cache's record of an earlier push, without reading the image
    /// (`RegistryClient.repush`).
    public var fromRecord = false
    /// Whether this push stored the manifest (false when the tag already named it).
    public var manifestStored = true

    /// `registry/repository@sha256:…`, the immutable name of what was pushed.
    public var pinnedReference: String { "\(reference.name)@\(digest)" }
}

/// Bounds how many tasks do something at once.
actor AsyncGate {
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    init(_ limit: Int) { self.limit = limit }
    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }
    func release() {
        if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
    }
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let r = try await body()
            release()
            return r
        } catch {
            release()
            throw error
        }
    }
}

extension RegistryClient {
    /// Pushes an image from a `docker save` archive file.
    /// - Parameters:
    ///   - image: which image of the archive (`name:tag` as in its `RepoTags`, or the config's
    ///     id); nil when the archive holds exactly one.
    ///   - cache: diff-id → blob cache; layers found there and in the registry are not read.
    public func push(
        saveTarball: URL, image: String? = nil, to ref: ImageReference, format: ManifestFormat = .docker,
        cache: BlobCache? = nil
    ) async throws -> PushResult {
        let archive = try SaveArchive.index(file: saveTarball.path)
        let job = try PushJob(client: self, ref: ref, format: format, cache: cache ?? memoryCache)
        defer { job.cleanUp() }
        return try await explainingRefusedCredentials(ref.registry) {
            try await job.savingCacheOnFailure { try await self.pushFile(archive, image: image, job: job) }
        }
    }

    private func pushFile(_ archive: SaveArchive, image: String?, job: PushJob) async throws -> PushResult {
        let ref = job.ref
        try await prepare(ref, scopes: [Self.pushScope(ref)])
        let entry = try PushJob.select(try archive.manifest(), image: image, origin: archive.origin)
        let config = try archive.data(entry.Config)
        let diffIDs = try PushJob.diffIDs(config, layers: entry.Layers.count, origin: archive.origin, name: entry.Config)
        let layers = try await withThrowingTaskGroup(of: (Int, PushedLayer).self) { group in
            for (i, name) in entry.Layers.enumerated() {
                let (input, known) = try archive.layer(name)
                group.addTask { (i, try await job.pushLayer(input, name: name, known: known, expected: diffIDs[i])) }
            }
            var out = [PushedLayer?](repeating: nil, count: entry.Layers.count)
            for try await (i, l) in group { out[i] = l }
            return out.compactMap { $0 }
        }
        return try await job.finish(config: config, layers: layers)
    }

    /// Pushes an image from a `docker save` stream (e.g. the engine's `GET /images/{name}/get`
    /// body). Each layer is compressed as it arrives and uploaded while the rest of the stream
    /// is still coming; a layer the cache knows (and the registry has) is only hashed.
    public func push(
        saveStream: AsyncThrowingStream<Data, any Error>, image: String? = nil, to ref: ImageReference,
        format: ManifestFormat = .docker, cache: BlobCache? = nil
    ) async throws -> PushResult {
        let job = try PushJob(client: self, ref: ref, format: format, cache: cache ?? memoryCache)
        defer { job.cleanUp() }
        return try await explainingRefusedCredentials(ref.registry) {
            try await job.savingCacheOnFailure { try await self.pushStream(saveStream, image: image, job: job) }
        }
    }

    /// The same for any sequence of chunks, such as the engine's export body
    /// (`EngineClient.exportImage`), read with back-pressure.
    public func push<S: AsyncSequence & Sendable>(
        saveStream: S, image: String? = nil, to ref: ImageReference, format: ManifestFormat = .docker,
        cache: BlobCache? = nil
    ) async throws -> PushResult where S.Element == Data {
        let source = SequenceBox(saveStream)
        let stream = AsyncThrowingStream<Data, any Error>(unfolding: { try await source.next() })
        return try await push(saveStream: stream, image: image, to: ref, format: format, cache: cache)
    }

    private func pushStream(
        _ saveStream: AsyncThrowingStream<Data, any Error>, image: String?, job: PushJob
    ) async throws -> PushResult {
        let ref = job.ref
        try await prepare(ref, scopes: [Self.pushScope(ref)])
        let cache = job.cache
        return try await withThrowingTaskGroup(of: (String, PushedLayer).self) { group in
            var started: Set<String> = []
            let archive = try await job.readStream(saveStream) { name, size in
                // Docker's save format names layers <v1 id>/layer.tar. One seen before whose blob
                // the registry has is only hashed (spooled, in case the guess is wrong); any
                // other is compressed as it arrives, overlapping export, compression and upload.
                guard name.hasSuffix("/layer.tar") else { return .spool }
                let key = "\(name):\(size)"
                if let diffID = await cache.hint(key), let layer = await cache.layer(diffID: diffID) {
                    let holders = await cache.repositories(holding: layer.digest)
                    let mountable = holders.contains { $0.hasPrefix(ref.registry + "/") && $0 != ref.name }
                    if mountable { return .spool }
                    if (try? await self.blobExists(layer.digest, in: ref)) != nil { return .spool }
                }
                let queue = StreamBlockQueue()
                started.insert(name)
                group.addTask { (name, try await job.pushLayer(streaming: queue, name: name, size: size, hintKey: key)) }
                return .stream(queue)
            } onSpooled: { name, size, input, diffID in
                guard name.hasSuffix("/layer.tar") else { return }
                started.insert(name)
                let key = "\(name):\(size)"
                group.addTask { (name, try await job.pushLayer(input, name: name, known: diffID, expected: nil, hintKey: key)) }
            }
            let entry = try PushJob.select(try archive.manifest(), image: image, origin: archive.origin)
            let config = try archive.data(entry.Config)
            let diffIDs = try PushJob.diffIDs(config, layers: entry.Layers.count, origin: archive.origin, name: entry.Config)
            // Layers reached through links, or not named layer.tar, start now.
            var resolvedNames: [String] = []
            for (i, layerName) in entry.Layers.enumerated() {
                let name = archive.resolvedName(layerName) ?? layerName
                resolvedNames.append(name)
                if started.insert(name).inserted {
                    let (input, known) = try archive.layer(name)
                    let expected = diffIDs[i]
                    group.addTask { (name, try await job.pushLayer(input, name: name, known: known, expected: expected)) }
                }
            }
            var byName: [String: PushedLayer] = [:]
            for try await (name, l) in group { byName[name] = l }
            var layers: [PushedLayer] = []
            for (i, name) in resolvedNames.enumerated() {
                guard let l = byName[name] else {
                    throw RegistryError(.badTarball, "\(archive.origin): layer \(name) was not processed", hint: "Export the image again")
                }
                guard l.diffID == diffIDs[i] else {
                    throw RegistryError(.badTarball,
                        "\(archive.origin): layer \(name) has diff-id \(l.diffID) but the image config says \(diffIDs[i])",
                        hint: "The archive is corrupt; export the image again")
                }
                layers.append(l)
            }
            return try await job.finish(config: config, layers: layers)
        }
    }
}

/// The state of one push.
final class PushJob: Sendable {
    let client: RegistryClient
    let ref: ImageReference
    let format: ManifestFormat
    let cache: BlobCache
    let workDir: URL
    let compressGate = AsyncGate(1)
    let uploadGate: AsyncGate
    var logger: Logger { client.logger }

    init(client: RegistryClient, ref: ImageReference, format: ManifestFormat, cache: BlobCache) throws {
        self.client = client
        self.ref = ref
        self.format = format
        self.cache = cache
        uploadGate = AsyncGate(client.options.parallelUploads)
        workDir = client.options.temporaryDirectory.appendingPathComponent("berth-push-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw RegistryError.io("cannot create temporary directory", workDir.path, "\(error)")
        }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: workDir) }

    /// Keeps what a failed push learned (compressed layers, blob locations) for the next try.
    func savingCacheOnFailure(_ body: () async throws -> PushResult) async throws -> PushResult {
        do {
            return try await body()
        } catch {
            try? await cache.save()
            throw error
        }
    }

    static func select(_ entries: [SaveArchive.ManifestEntry], image: String?, origin: String) throws -> SaveArchive.ManifestEntry {
        let tags = entries.flatMap { $0.RepoTags ?? [] }
        guard let image else {
            guard entries.count == 1, let e = entries.first else {
                throw RegistryError(.imageNotInTarball,
                    entries.isEmpty ? "\(origin) holds no image" : "\(origin) holds \(entries.count) images; say which one",
                    hint: entries.isEmpty ? "Export the image again" : "Name one of: \(tags.joined(separator: ", "))")
            }
            return e
        }
        let wanted = try? ImageReference.parse(image)
        for e in entries {
            for tag in e.RepoTags ?? [] {
                if tag == image { return e }
                if let wanted, let r = try? ImageReference.parse(tag), r.name == wanted.name, r.tag == wanted.tag { return e }
            }
            let id = e.Config.replacing(".json", with: "").replacing("blobs/sha256/", with: "")
            let short = image.hasPrefix("sha256:") ? String(image.dropFirst(7)) : image
            if short.count >= 12 && id.hasPrefix(short) { return e }
        }
        throw RegistryError(.imageNotInTarball, "\(origin) does not hold image \(image)",
            hint: tags.isEmpty ? "The archive has no tagged images; pass the image id" : "It holds: \(tags.joined(separator: ", "))")
    }

    static func diffIDs(_ config: Data, layers: Int, origin: String, name: String) throws -> [String] {
        struct Config: Decodable {
            struct RootFS: Decodable { var diff_ids: [String]? }
            var rootfs: RootFS?
        }
        guard let c = try? JSONDecoder().decode(Config.self, from: config) else {
            throw RegistryError(.badTarball, "\(origin): \(name) is not an image config", hint: "Export the image again")
        }
        let ids = c.rootfs?.diff_ids ?? []
        guard ids.count == layers else {
            throw RegistryError(.badTarball,
                "\(origin): the image config lists \(ids.count) layers but manifest.json \(layers)",
                hint: "The archive is inconsistent; export the image again")
        }
        return ids
    }

    /// Gets one layer into the repository: from the cache without reading it when possible,
    /// else compress (one layer at a time, on every core) and upload (a few at a time).
    func pushLayer(
        _ input: LayerInput, name: String, known: String?, expected: String?, hintKey: String? = nil
    ) async throws -> PushedLayer {
        let start = ContinuousClock.now
        if let hintKey, let diffID = known { await cache.recordHint(hintKey, diffID: diffID) }
        if let diffID = known ?? expected, let hit = await cache.layer(diffID: diffID) {
            if try await client.blobExists(hit.digest, in: ref) != nil {
                logger.info("layer already in registry", metadata: ["diffID": "\(diffID)", "digest": "\(hit.digest)"])
                await cache.recordLocation(digest: hit.digest, repository: ref.name)
                return PushedLayer(diffID: diffID, digest: hit.digest, size: hit.size, action: .skipped, compressed: false)
            }
            let from = await cache.repositories(holding: hit.digest)
            if try await client.mount(hit.digest, into: ref, candidates: from) {
                await cache.recordLocation(digest: hit.digest, repository: ref.name)
                return PushedLayer(diffID: diffID, digest: hit.digest, size: hit.size, action: .mounted, compressed: false)
            }
        }
        let gzPath = workDir.appendingPathComponent(UUID().uuidString + ".gz").path
        defer { try? FileManager.default.removeItem(atPath: gzPath) }
        let compressor = client.options.compressor
        let layer = try await compressGate.run { try await compressor.compress(input, to: gzPath) }
        if let expected, layer.diffID != expected {
            throw RegistryError(.badTarball,
                "layer \(name) has diff-id \(layer.diffID) but the image config says \(expected)",
                hint: "The archive is corrupt; export the image again")
        }
        if let known, layer.diffID != known {
            throw RegistryError(.badTarball, "layer \(name) changed while it was read", hint: "Export the image again")
        }
        return try await upload(layer, gzPath: gzPath, start: start)
    }

    /// A layer compressed while it streams in; its diff-id is known only at the end.
    func pushLayer(streaming queue: StreamBlockQueue, name: String, size: Int64, hintKey: String) async throws -> PushedLayer {
        let start = ContinuousClock.now
        let gzPath = workDir.appendingPathComponent(UUID().uuidString + ".gz").path
        defer { try? FileManager.default.removeItem(atPath: gzPath) }
        let compressor = client.options.compressor
        let layer: CompressedLayer
        do {
            layer = try await compressGate.run { try await compressor.compress(queue, length: size, to: gzPath) }
        } catch {
            queue.cancel()
            throw error
        }
        await cache.recordHint(hintKey, diffID: layer.diffID)
        return try await upload(layer, gzPath: gzPath, start: start)
    }

    private func upload(_ layer: CompressedLayer, gzPath: String, start: ContinuousClock.Instant) async throws -> PushedLayer {
        let compressTime = ContinuousClock.now - start
        await cache.record(diffID: layer.diffID, digest: layer.digest, size: layer.size)
        let from = await cache.repositories(holding: layer.digest)
        let ref = self.ref
        let client = self.client
        let (action, _) = try await uploadGate.run {
            try await client.ensureBlob(layer.digest, size: layer.size, source: .file(path: gzPath), in: ref, mountFrom: from)
        }
        await cache.recordLocation(digest: layer.digest, repository: ref.name)
        logger.info("layer pushed", metadata: [
            "digest": "\(layer.digest)", "action": "\(action.rawValue)", "size": "\(layer.size)",
            "uncompressed": "\(layer.uncompressedSize)", "compress": "\(compressTime)",
            "total": "\(ContinuousClock.now - start)",
        ])
        return PushedLayer(diffID: layer.diffID, digest: layer.digest, size: layer.size, action: action, compressed: true)
    }

    /// Config last but one, manifest last.
    func finish(config: Data, layers: [PushedLayer]) async throws -> PushResult {
        let configDigest = Digest.of(config)
        let (configAction, configBytes) = try await client.ensureBlob(
            configDigest, size: Int64(config.count), source: .data(config), in: ref,
            mountFrom: await cache.repositories(holding: configDigest))
        await cache.recordLocation(digest: configDigest, repository: ref.name)
        let manifest = Self.manifestJSON(format: format, config: (configDigest, Int64(config.count)),
            layers: layers.map { ($0.digest, $0.size) })
        let digest = try await client.putManifest(manifest, mediaType: format.manifestMediaType, to: ref)
        await cache.recordImage(configDigest, format: format, BlobCache.ImageRecord(
            manifest: manifest, mediaType: format.manifestMediaType, digest: digest,
            config: BlobCache.Layer(digest: configDigest, size: Int64(config.count)),
            layers: layers.map { BlobCache.RecordedLayer(diffID: $0.diffID, digest: $0.digest, size: $0.size) },
            pushedAt: Date().timeIntervalSince1970))
        do { try await cache.save() } catch { logger.warning("blob cache not saved", metadata: ["error": "\(error)"]) }
        let actions = layers.map(\.action) + [configAction]
        return PushResult(
            reference: ref, digest: digest, manifestSize: manifest.count, mediaType: format.manifestMediaType,
            configDigest: configDigest, layers: layers,
            bytesUploaded: layers.filter { $0.action == .uploaded }.reduce(0) { $0 + $1.size } + configBytes,
            blobsSkipped: actions.filter { $0 == .skipped }.count,
            blobsMounted: actions.filter { $0 == .mounted }.count,
            blobsUploaded: actions.filter { $0 == .uploaded }.count,
            layersCompressed: layers.filter(\.compressed).count)
    }

    static func manifestJSON(format: ManifestFormat, config: (String, Int64), layers: [(String, Int64)]) -> Data {
        func descriptor(_ mediaType: String, _ d: (String, Int64)) -> String {
            "{\"mediaType\":\"\(mediaType)\",\"size\":\(d.1),\"digest\":\"\(d.0)\"}"
        }
        let l = layers.map { descriptor(format.layerMediaType, $0) }.joined(separator: ",")
        let s = "{\"schemaVersion\":2,\"mediaType\":\"\(format.manifestMediaType)\","
            + "\"config\":\(descriptor(format.configMediaType, config)),\"layers\":[\(l)]}"
        return Data(s.utf8)
    }

    enum LargeMember {
        /// Write to a temporary file, hashing it.
        case spool
        /// Hand the bytes to this queue (a compressor reads it).
        case stream(StreamBlockQueue)
    }

    /// Reads a `docker save` stream: small members into memory; for each big one `large`
    /// decides whether it is spooled to a file with its sha256 (then `onSpooled` is called) or
    /// streamed into a queue.
    func readStream(
        _ stream: AsyncThrowingStream<Data, any Error>,
        large: (String, Int64) async throws -> LargeMember,
        onSpooled: (String, Int64, LayerInput, String) throws -> Void
    ) async throws -> SaveArchive {
        var reader = AsyncByteReader(stream)
        var archive = SaveArchive(origin: "the image export stream")
        var longName: String?
        var pax: [String: String] = [:]
        var first = true
        func truncated() -> RegistryError {
            RegistryError(.badTarball, "the image export stream ended early (truncated tar)",
                hint: "The engine stopped sending the image; check the engine's log and push again")
        }
        while true {
            guard let h = try await reader.readExactly(TarFormat.block) else {
                if first { throw RegistryError(.badTarball, "the image export stream is empty", hint: "Check that the image exists") }
                throw truncated()
            }
            guard h.count == TarFormat.block else { throw truncated() }
            first = false
            guard case .entry(let rawName, let type, var size, let rawLink) = try TarFormat.parseHeader(h, context: archive.origin) else {
                break
            }
            if let s = pax["size"], let v = Int64(s) { size = v }
            let padded = TarFormat.padded(size)
            switch type {
            case 76, 120:  // GNU long name, PAX header
                guard size <= 1 << 20, let d = try await reader.readExactly(Int(padded)), d.count == Int(padded) else { throw truncated() }
                let body = d.prefix(Int(size))
                if type == 76 { longName = TarFormat.cString(ArraySlice([UInt8](body))) } else { pax = TarFormat.paxRecords(body) }
                continue
            default: break
            }
            let name = TarFormat.normalize(pax["path"] ?? longName ?? rawName)
            let link = pax["linkpath"] ?? rawLink
            longName = nil
            pax = [:]
            let kind = TarFormat.kind(type)
            if kind == .symlink || kind == .hardlink { archive.members[name] = .link(link) }
            if kind == .file && size > client.options.streamMemberLimit {
                switch try await large(name, size) {
                case .spool:
                    let path = workDir.appendingPathComponent(UUID().uuidString + ".tar").path
                    let digest = try await spool(&reader, size: size, padded: padded, to: path, truncated: truncated)
                    archive.members[name] = .spooled(path: path, length: size, digest: digest)
                    try onSpooled(name, size, .file(path: path, offset: 0, length: size), digest)
                case .stream(let queue):
                    archive.members[name] = .streamed
                    do {
                        try await pump(&reader, size: size, padded: padded, into: queue, truncated: truncated)
                        queue.finish()
                    } catch {
                        queue.finish(error: error)
                        throw error
                    }
                }
            } else {
                guard let d = padded == 0 ? Data() : try await reader.readExactly(Int(padded)), d.count == Int(padded) else {
                    throw truncated()
                }
                if kind == .file { archive.members[name] = .memory(Data(d.prefix(Int(size)))) }
            }
        }
        return archive
    }

    private func pump(
        _ reader: inout AsyncByteReader, size: Int64, padded: Int64, into queue: StreamBlockQueue,
        truncated: () -> RegistryError
    ) async throws {
        var left = padded
        var dataLeft = size
        while left > 0 {
            let d = try await reader.read(max: Int(min(left, 1 << 20)))
            if d.isEmpty { throw truncated() }
            let useful = Int(min(Int64(d.count), dataLeft))
            if useful > 0 { await queue.put(useful == d.count ? d : d.prefix(useful)) }
            dataLeft -= Int64(useful)
            left -= Int64(d.count)
        }
    }

    private func spool(
        _ reader: inout AsyncByteReader, size: Int64, padded: Int64, to path: String, truncated: () -> RegistryError
    ) async throws -> String {
        guard FileManager.default.createFile(atPath: path, contents: nil), let fh = File(forWritingAtPath: path) else {
            throw RegistryError.io("cannot create", path, String(cString: strerror(errno)))
        }
        defer { try? fh.close() }
        var hasher = SHA256Hasher()
        var left = padded
        var dataLeft = size
        while left > 0 {
            let d = try await reader.read(max: Int(min(left, 1 << 20)))
            if d.isEmpty { throw truncated() }
            let useful = d.prefix(Int(min(Int64(d.count), dataLeft)))
            if !useful.isEmpty {
                hasher.update(useful)
                do { try fh.write(contentsOf: useful) } catch { throw RegistryError.io("cannot write", path, "\(error)") }
            }
            dataLeft -= Int64(useful.count)
            left -= Int64(d.count)
        }
        return hasher.finalize()
    }
}

extension SaveArchive {
    /// The member name a (possibly linked) name ends at.
    func resolvedName(_ name: String) -> String? {
        var current = TarFormat.normalize(name)
        for _ in 0..<16 {
            guard let m = members[current] else { return nil }
            guard case .link(let target) = m else { return current }
            if target.hasPrefix("/") {
                current = TarFormat.normalize(target)
            } else if let slash = current.lastIndex(of: "/") {
                current = Self.clean(String(current[..<slash]) + "/" + target)
            } else {
                current = Self.clean(target)
            }
        }
        return nil
    }
}

/// Pulls from an async sequence's iterator; only ever called by one reader at a time.
private final class SequenceBox<S: AsyncSequence>: @unchecked Sendable where S.Element == Data {
    private var iterator: S.AsyncIterator
    init(_ s: S) { iterator = s.makeAsyncIterator() }
    func next() async throws -> Data? { try await iterator.next() }
}
