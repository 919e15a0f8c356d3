import Curl
import Engine
import FoundationEssentials
import Glibc
import Logging
import Registry

/// An image exported from the engine and streamed into a registry push. Shared by `berth push`,
/// `berth build --push` and the build step of `berth serve`'s syncs.
public struct ImagePusher: Sendable {
    public let client: RegistryClient
    public let engine: EngineClient
    public let cache: BlobCache?

    /// - Parameters:
    ///   - caFile: PEM bundle of CAs trusted for the registry.
    ///   - insecure: allow plain http to a registry that is not on loopback.
    ///   - cacheDirectory: the state directory; the blob cache lives in its `blob-cache`. Nil: no cache.
    public init(credentials: CredentialStore, caFile: String? = nil, insecure: Bool = false, cacheDirectory: URL?,
                engine: EngineClient? = nil, logger: Logger) {
        // BERTH_REGISTRY_CA also serves `berth build --push` and serve, which may not pass a file.
        let ca = caFile ?? ProcessInfo.processInfo.environment["BERTH_REGISTRY_CA"].flatMap { $0.isEmpty ? nil : $0 }
        let http = HTTPClient(configuration: HTTPClient.Configuration(caFile: ca), logger: logger)
        client = RegistryClient(http: http, credentials: credentials, options: RegistryClient.Options(insecure: insecure),
                                logger: logger)
        self.engine = engine ?? EngineClient(logger: logger)
        cache = cacheDirectory.map { BlobCache(directory: $0.appendingPathComponent("blob-cache")) }
    }

    /// Pushes the local `image` (name or ID) to `reference`. An image pushed before (same engine
    /// image ID, so the same bytes) is checked with HEAD requests from the cache's record and not
    /// exported; anything else streams the export.
    public func push(_ image: String, to reference: Registry.ImageReference, format: ManifestFormat = .docker) async throws -> PushResult {
        if let cache {
            // The inspect is cheap next to an export; the ID is the config's digest.
            let id = try await engine.inspectImage(image).id
            if let done = try await client.repush(imageID: id, to: reference, format: format, cache: cache) { return done }
            // Export by ID: a tag moved meanwhile must not push other bytes than were looked up.
            let export = try await engine.exportImage(id)
            return try await client.push(saveStream: export, image: id, to: reference, format: format, cache: cache)
        }
        let export = try await engine.exportImage(image)
        return try await client.push(saveStream: export, image: image, to: reference, format: format, cache: cache)
    }
}
