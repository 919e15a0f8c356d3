import FoundationEssentials
import Platform
import Glibc

/// The release lock `berth build` writes and `berth reconcile --release` deploys exactly:
/// `{"app": …, "commit": …, "services": {"web": {"image": "repo@sha256:…"}}}`.
public struct ReleaseLock: Codable, Sendable, Equatable {
    public struct ServiceImage: Codable, Sendable, Equatable {
        /// `<repository>@sha256:…` once pushed; the local image ID (`sha256:…`) before.
        public var image: String
        public init(image: String) { self.image = image }
    }

    public var app: String
    public var commit: String
    public var services: [String: ServiceImage]

    public init(app: String, commit: String, services: [String: ServiceImage]) {
        self.app = app
        self.commit = commit
        self.services = services
    }

    /// From build results; `pushed` maps a service to its pushed `repo@sha256:…` reference.
    public init(plan: BuildPlan, results: [ServiceBuildResult], pushed: [String: String] = [:]) {
        var services: [String: ServiceImage] = [:]
        for result in results {
            services[result.service] = ServiceImage(image: pushed[result.service] ?? result.imageID)
        }
        self.init(app: plan.project, commit: plan.revision, services: services)
    }

    /// Stable bytes: sorted keys, two-space indentation, trailing newline.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = (try? encoder.encode(self)) ?? Data()
        data.append(0x0A)
        return data
    }

    /// Writes atomically (temp file + rename), so a reader never sees half a lock.
    public func write(to path: String) throws(BuildError) {
        do {
            try encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw BuildError(.output, location: path, message: "cannot write the release lock: \(errorText(error))",
                             hint: "Check that the directory exists and is writable.")
        }
    }

    public static func read(from path: String) throws(BuildError) -> ReleaseLock {
        do {
            return try JSONDecoder().decode(ReleaseLock.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw BuildError(.output, location: path, message: "cannot read the release lock: \(error)",
                             hint: "Expected {\"app\": …, \"commit\": …, \"services\": {\"<service>\": {\"image\": …}}}.")
        }
    }
}
