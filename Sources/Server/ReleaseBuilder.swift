import Build
import Compose
import Engine
import Foundation
import GitSource
import Logging
import Registry

/// The build step of a sync: builds the app's services that have `build:` at the commit,
/// pushes them, and hands back the digest references the deploy pins.
///
/// An unchanged context is not rebuilt (the Builder reuses an image with the same build key),
/// and blobs the registry has are not uploaded again, so a sync of an unchanged commit costs a
/// few HEAD requests.
public struct ReleaseBuilder: Sendable {
    public struct Options: Sendable {
        /// Registry (and namespace) for the images, e.g. `127.0.0.1:5000/acme`; wins over
        /// berth.yaml's `registry:`. With neither, images are built and deployed by image ID
        /// without a push (this host only).
        public var registry: String?
        public var credentials: CredentialStore
        public var caFile: String?
        /// Plain http to a registry that is not on loopback.
        public var insecure: Bool
        /// How many builds of one app run at once.
        public var parallelism: Int
        /// Labels added to every built image.
        public var labels: [String: String]

        public init(registry: String? = nil, credentials: CredentialStore = CredentialStore(), caFile: String? = nil,
                    insecure: Bool = false, parallelism: Int = 2, labels: [String: String] = [:]) {
            self.registry = registry
            self.credentials = credentials
            self.caFile = caFile
            self.insecure = insecure
            self.parallelism = parallelism
            self.labels = labels
        }
    }

    /// What the build step did, for the release record and `/metrics`.
    public struct Output: Sendable, Equatable {
        /// Service → `<repository>@sha256:…` (pushed) or `sha256:…` (image ID, no registry).
        public var images: [String: String] = [:]
        public var built: Int = 0
        public var reused: Int = 0
        public var buildSeconds: Double = 0
        public var pushSeconds: Double = 0
        public var bytesUploaded: Int64 = 0
        public var blobsUploaded: Int = 0
        public var blobsSkipped: Int = 0
        public var blobsMounted: Int = 0
        public init() {}
    }

    let engine: EngineClient
    let options: Options
    let pusher: ImagePusher
    let logger: Logger

    /// - Parameter stateDirectory: holds the blob cache (`blob-cache/`) shared with `berth push`.
    public init(engine: EngineClient, options: Options, stateDirectory: URL?, logger: Logger) {
        self.engine = engine
        self.options = options
        self.logger = logger
        pusher = ImagePusher(credentials: options.credentials, caFile: options.caFile, insecure: options.insecure,
                             cacheDirectory: stateDirectory, engine: engine, logger: logger)
    }

    /// Whether the project has anything to build.
    public static func hasBuilds(_ project: Project) -> Bool {
        project.services.contains { $0.build != nil }
    }

    /// Builds and pushes every service of `project` with `build:` except those in `skipping`.
    /// Throws before anything is deployed; the error names the service, the file and the step.
    public func build(_ project: Project, app: String, checkout: RepoCheckout, source: String,
                      skipping: Set<String> = []) async throws -> Output {
        let services = project.services.filter { $0.build != nil && !skipping.contains($0.name) }.map(\.name)
        var output = Output()
        guard !services.isEmpty else { return output }
        let registry = options.registry ?? checkout.config.registry
        let plan: BuildPlan
        do {
            plan = try BuildPlanner.plan(project, options: BuildOptions(
                services: services, registry: registry, revision: checkout.commit, source: source, labels: options.labels,
                parallelism: options.parallelism))
        } catch {
            throw ServerError("app \(app) at \(checkout.commit.prefix(12)): \(error); nothing was changed")
        }
        let buildStart = ContinuousClock.now
        let results: [ServiceBuildResult]
        do {
            results = try await Builder(engine: engine, logger: logger).build(plan)
        } catch {
            throw ServerError("app \(app) at \(checkout.commit.prefix(12)): build failed: \(error); nothing was changed")
        }
        output.buildSeconds = Self.seconds(ContinuousClock.now - buildStart)
        output.built = results.filter { !$0.reused }.count
        output.reused = results.filter(\.reused).count
        // Services a wanted build pulled in as a base are built but only those asked for are pinned.
        let wanted = Set(services)
        guard registry != nil else {
            for r in results where wanted.contains(r.service) { output.images[r.service] = r.imageID }
            logger.info("\(app): built \(output.built), reused \(output.reused); no registry set, deploying by image ID")
            return output
        }
        let pushStart = ContinuousClock.now
        for result in results where wanted.contains(result.service) {
            guard let tag = result.tags.first else { continue }
            do {
                let reference = try Registry.ImageReference.parse(tag)
                let pushed = try await pusher.push(tag, to: reference)
                output.images[result.service] = pushed.pinnedReference
                output.bytesUploaded += pushed.bytesUploaded
                output.blobsUploaded += pushed.blobsUploaded
                output.blobsSkipped += pushed.blobsSkipped
                output.blobsMounted += pushed.blobsMounted
            } catch {
                throw ServerError("app \(app) service \(result.service): cannot push \(tag): \(error); nothing was changed")
            }
        }
        output.pushSeconds = Self.seconds(ContinuousClock.now - pushStart)
        logger.info("\(app): built \(output.built), reused \(output.reused), pushed \(output.images.count) image(s), \(output.bytesUploaded) bytes uploaded")
        return output
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
