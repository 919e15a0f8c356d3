import Curl
import Engine
import Foundation
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
        let http = HTTPClient(configuration: HTTPClient.Configuration(caFile: caFile), logger: logger)
        client = RegistryClient(http: http, credentials: credentials, options: RegistryClient.Options(insecure: insecure),
                                logger: logger)
        self.engine = engine ?? EngineClient(logger: logger)
        cache = cacheDirectory.map { BlobCache(directory: $0.appendingPathComponent("blob-cache")) }
    }

    /// Pushes the local `image` (name or ID) to `reference`.
    public func push(_ image: String, to reference: Registry.ImageReference, format: ManifestFormat = .docker) async throws -> PushResult {
        let export = try await engine.exportImage(image)
        return try await client.push(saveStream: export, image: image, to: reference, format: format, cache: cache)
    }
}
