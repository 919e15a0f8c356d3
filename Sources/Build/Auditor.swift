// The libc audit: does every ELF file of an image find its loader, its libraries and the
// symbol versions it needs inside that image? Reads the image as the engine exports it
// (`docker save`), streaming: layers are indexed as they pass, never stored.

import Curl
import Engine
import Foundation
import Logging

/// Audits images on one engine.
public struct ImageAuditor: Sendable {
    public let engine: EngineClient
    let logger: Logger
    let temporaryDirectory: String

    /// - Parameter temporaryDirectory: where ELF files larger than 64 MiB are spooled while
    ///   they are read (default `$TMPDIR`); removed after each audit.
    public init(engine: EngineClient, logger: Logger, temporaryDirectory: String? = nil) {
        self.engine = engine
        self.logger = logger
        self.temporaryDirectory = temporaryDirectory ?? FileManager.default.temporaryDirectory.path
    }

    /// Exports `image` from the engine and audits it.
    public func audit(_ image: String) async throws(BuildError) -> AuditReport {
        let start = ContinuousClock.now
        let inspect: ImageInspect
        do {
            inspect = try await engine.inspectImage(image)
        } catch {
            throw Self.engineError(error, image: image)
        }
        let body: HTTPBodyStream
        do {
            body = try await engine.exportImage(inspect.id)
        } catch {
            throw Self.engineError(error, image: image)
        }
        var report = try await audit(archive: body, name: image)
        report.imageID = inspect.id
        report.seconds = Self.seconds(since: start)
        logger.debug("audited", metadata: ["image": "\(image)", "seconds": "\(report.seconds)",
                                           "findings": "\(report.findings.count)"])
        return report
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
        guard let handle = FileHandle(forReadingAtPath: path) else {
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
    let handle: FileHandle

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        mutating func next() async throws -> Data? {
            let d = try handle.read(upToCount: 1 << 20) ?? Data()
            return d.isEmpty ? nil : d
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
}
