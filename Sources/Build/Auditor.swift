// The libc audit: does every ELF file of an image find its loader, its libraries and the
// symbol versions it needs inside that image? Reads the image as the engine exports it
// (`docker save`), streaming: layers are indexed as they pass, never stored.

import Curl
import Engine
import Dispatch
import FoundationEssentials
import Platform
import Glibc
import Logging
import Synchronization

/// Audits images on one engine.
public struct ImageAuditor: Sendable {
    /// How the layers were read.
    public enum Source: String, Sendable, Codable {
        /// overlay2 directories of the engine's storage, read in place (Berth on the engine's host).
        case storage
        /// `GET /images/{id}/get`, streamed.
        case export
        /// A report cached for this image ID.
        case cache
    }

    public let engine: EngineClient
    let logger: Logger
    let temporaryDirectory: String
    let cacheDirectory: URL?
    let cacheKey: String
    let readStorage: Bool

    /// Bump when a change to the checks could change a report: cached reports of another
    /// version are ignored.
    public static let checksVersion = 2

    /// - Parameters:
    ///   - temporaryDirectory: where ELF files larger than 64 MiB are spooled while they are
    ///     read from an export (default `$TMPDIR`); removed after each audit.
    ///   - cacheDirectory: where reports are kept by image ID (an image never changes, so a
    ///     re-audit is a file read); nil: no cache.
    ///   - version: the program's version, part of the cache key with `checksVersion`.
    ///   - readStorage: read the engine's overlay2 layer directories in place when this process
    ///     can (much faster than the export); false: always export.
    public init(engine: EngineClient, logger: Logger, temporaryDirectory: String? = nil, cacheDirectory: URL? = nil,
                version: String = "", readStorage: Bool = true) {
        self.engine = engine
        self.logger = logger
        self.temporaryDirectory = temporaryDirectory ?? FileManager.default.temporaryDirectory.path
        self.cacheDirectory = cacheDirectory
        self.cacheKey = "\(Self.checksVersion)/\(version)"
        self.readStorage = readStorage
    }

    /// Audits `image` on the engine: from the cache, else from the engine's layer directories
    /// when readable, else from its export.
    public func audit(_ image: String) async throws(BuildError) -> AuditReport {
        let start = ContinuousClock.now
        let inspect: StorageImageInspect
        do {
            let response = try await engine.call(.get, "/images/\(Self.pathSegment(image))/json")
            inspect = try JSONDecoder().decode(StorageImageInspect.self, from: response.body)
        } catch {
            throw Self.engineError(error, image: image)
        }
        if var cached = cachedReport(inspect.id) {
            cached.image = image
            cached.source = .cache
            cached.seconds = Self.seconds(since: start)
            return cached
        }
        var report: AuditReport
        if readStorage, let directories = inspect.overlayDirectories,
           let fast = await auditStorage(inspect, directories: directories, name: image) {
            report = fast
        } else {
            let body: HTTPBodyStream
            do {
                body = try await engine.exportImage(inspect.id)
            } catch {
                throw Self.engineError(error, image: image)
            }
            report = try await audit(archive: body, name: image)
            report.source = .export
        }
        report.imageID = inspect.id
        await addHistory(to: &report)
        report.seconds = Self.seconds(since: start)
        store(report)
        logger.debug("audited", metadata: ["image": "\(image)", "seconds": "\(report.seconds)", "source": "\(report.source?.rawValue ?? "")",
                                           "findings": "\(report.findings.count)"])
        return report
    }

    /// The layers straight from overlay2; nil (after a debug log) when anything is unusual, so
    /// the caller exports instead.
    func auditStorage(_ inspect: StorageImageInspect, directories: [String], name: String) async -> AuditReport? {
        // Directory walks block: on a dispatch thread, so the cooperative pool stays free;
        // layers are read concurrently (each is independent until they are stacked).
        let result: Result<[LayerIndex], StorageLayerError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let slots = Mutex([Result<LayerIndex, StorageLayerError>?](repeating: nil, count: directories.count))
                DispatchQueue.concurrentPerform(iterations: directories.count) { i in
                    let r: Result<LayerIndex, StorageLayerError>
                    do throws(StorageLayerError) { r = .success(try StorageLayerReader(root: directories[i]).index()) } catch { r = .failure(error) }
                    slots.withLock { $0[i] = r }
                }
                var layers: [LayerIndex] = []
                for slot in slots.withLock({ $0 }) {
                    switch slot {
                    case .success(let index): layers.append(index)
                    case .failure(let error): return continuation.resume(returning: .failure(error))
                    case nil: return continuation.resume(returning: .failure(.unusable("a layer was not read")))
                    }
                }
                continuation.resume(returning: .success(layers))
            }
        }
        let layers: [LayerIndex]
        switch result {
        case .success(let read):
            layers = read
        case .failure(.unusable(let why)):
            logger.debug("reading the engine's layer directories failed; exporting instead", metadata: ["why": "\(why)"])
            return nil
        }
        let diffIDs = inspect.rootFS?.Layers ?? []
        let info = layers.indices.map { AuditLayer(index: $0, diffID: $0 < diffIDs.count ? diffIDs[$0] : nil, createdBy: nil) }
        var config = SavedImageConfig()
        config.architecture = inspect.architecture
        config.config = SavedImageConfig.Config(Env: inspect.config?.Env)
        var report = Self.check(SavedImage(configDigest: inspect.id, config: config, layers: layers, layerInfo: info, bytesRead: 0),
                                name: name)
        report.source = .storage
        return report
    }

    /// Each layer's build step from `GET /images/{id}/history`: `created_by`, and the step's
    /// image ID when it was built here. Skipped when the layer-making entries do not line up
    /// one to one with the layers (the export's config history stays then).
    func addHistory(to report: inout AuditReport) async {
        guard let response = try? await engine.call(.get, "/images/\(Self.pathSegment(report.imageID))/history"),
              let history = try? JSONDecoder().decode([StorageHistoryEntry].self, from: response.body) else { return }
        let steps = history.reversed().filter(\.makesLayer)
        guard steps.count == report.layers.count else { return }
        report.updateLayers { layer in
            let step = steps[layer.index]
            if layer.createdBy == nil { layer.createdBy = step.CreatedBy }
            if let id = step.Id, id.hasPrefix("sha256:") { layer.stepImage = id }
        }
    }

    func cacheFile(_ imageID: String) -> URL? {
        guard let cacheDirectory else { return nil }
        let hex = imageID.hasPrefix("sha256:") ? String(imageID.dropFirst(7)) : imageID
        guard !hex.isEmpty, hex.allSatisfy(\.isHexDigit) else { return nil }
        return cacheDirectory.appendingPathComponent("audit").appendingPathComponent(hex + ".json")
    }

    struct CacheEntry: Codable {
        var key: String
        var report: AuditReport
    }

    func cachedReport(_ imageID: String) -> AuditReport? {
        guard let file = cacheFile(imageID), let data = try? Data(contentsOf: file),
              let entry = try? JSONDecoder().decode(CacheEntry.self, from: data), entry.key == cacheKey,
              entry.report.imageID == imageID else { return nil }
        return entry.report
    }

    /// Keeps `report` as the cached report of its image (e.g. after `naming(steps:)` added the
    /// Dockerfile instructions a build knew). Best effort: a cache that cannot be written only
    /// costs the next audit its time.
    public func store(_ report: AuditReport) {
        guard let file = cacheFile(report.imageID), let data = try? JSONEncoder().encode(CacheEntry(key: cacheKey, report: report)) else { return }
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        } catch {
            logger.debug("cannot cache the audit report", metadata: ["file": "\(file.path)", "error": "\(error)"])
        }
    }

    static func pathSegment(_ s: String) -> String {
        s.addingPercentEncoding(allowing: CharacterClass.alphanumerics.union(CharacterClass(charactersIn: "-._~:@/")))
    }

    /// Audits a `docker save` archive arriving as chunks (the engine's export, or a file).
    public func audit<S: AsyncSequence & Sendable>(archive: S, name: String) async throws(BuildError) -> AuditReport
    where S.Element == Data {
        let start = ContinuousClock.now
        let spool = URL(fileURLWithPath: temporaryDirectory).appendingPathComponent("berth-audit-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: spool) }
        let reader = SaveArchiveReader(name: name, spoolDirectory: spool)
        let saved: SavedImage
        do {
            for try await chunk in archive {
                try chunk.withUnsafeBytes { try reader.feed($0) }
            }
            saved = try reader.finish()
        } catch let e as TarFormatError {
            throw BuildError(.audit, location: name, message: "cannot read the image archive: \(e.message)",
                             hint: "export it again; if this repeats, the engine's image store may be damaged")
        } catch {
            throw Self.engineError(error, image: name)
        }
        var report = Self.check(saved, name: name)
        report.seconds = Self.seconds(since: start)
        return report
    }

    /// Audits a `docker save` archive on disk (e.g. `docker save -o image.tar`).
    public func audit(archiveFile path: String, name: String? = nil) async throws(BuildError) -> AuditReport {
        let label = name ?? path
        guard let handle = File(forReadingAtPath: path) else {
            throw BuildError(.audit, location: path, message: "cannot open the image archive", hint: "check the path")
        }
        defer { try? handle.close() }
        return try await audit(archive: FileChunks(handle: handle), name: label)
    }

    static func check(_ saved: SavedImage, name: String) -> AuditReport {
        let fs = ImageFilesystem(layers: saved.layers)
        let checker = AuditChecker(fs: fs, layers: saved.layerInfo, environment: saved.config.config?.Env ?? [],
                                   architecture: saved.config.architecture)
        let r = checker.run()
        return AuditReport(
            image: name, imageID: saved.configDigest, architecture: saved.config.architecture, libc: r.libc,
            glibcVersion: r.glibcVersion, highestGlibcNeeded: r.highestGlibcNeeded, filesChecked: r.filesChecked,
            elfCount: r.elfCount, staticCount: r.staticCount, findings: r.findings, unreadable: r.unreadable,
            layers: saved.layerInfo, bytesRead: saved.bytesRead, seconds: 0)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func engineError(_ error: any Error, image: String) -> BuildError {
        if let e = error as? EngineError, case .status(404) = e.kind {
            return BuildError(.audit, location: image, message: "no such image on the engine",
                              hint: "build or pull it first; `docker images` lists what the engine has")
        }
        if let e = error as? BuildError { return e }
        return BuildError(.audit, location: image, message: "cannot export the image: \(error)",
                          hint: "check that the engine is running (`berth doctor`)")
    }
}

/// A file read in 1 MiB chunks as an async sequence.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = Data
    let handle: File

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: File
        mutating func next() async throws -> Data? {
            let d = try handle.read(upToCount: 1 << 20) ?? Data()
            return d.isEmpty ? nil : d
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
}
