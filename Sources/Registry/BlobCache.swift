import FoundationEssentials
import Glibc

/// Remembers, per layer diff-id, the digest and size of its gzip blob, so a layer is compressed
/// once; and per blob digest the repositories it was pushed to, for cross-repo mounts.
/// Persisted as a small JSON file (`blob-cache.json`) in the given directory.
public actor BlobCache {
    public struct Layer: Codable, Sendable, Hashable {
        public var digest: String
        public var size: Int64
    }

    /// A pushed image: enough to push it again from the cache alone (see
    /// `RegistryClient.repush(imageID:to:format:cache:)`), verified by HEAD requests.
    public struct ImageRecord: Codable, Sendable, Hashable {
        public var manifest: Data
        public var mediaType: String
        public var digest: String
        public var config: Layer
        /// Diff-id and blob per layer, in manifest order.
        public var layers: [RecordedLayer]
        /// Seconds since 1970; the oldest records are dropped first.
        public var pushedAt: Double
    }

    public struct RecordedLayer: Codable, Sendable, Hashable {
        public var diffID: String
        public var digest: String
        public var size: Int64
    }

    private struct File: Codable {
        var version: Int
        var layers: [String: Layer]
        /// Blob digest → `registry/repository` names holding it, newest last.
        var locations: [String: [String]]
        /// `docker save` member (`<v1 id>/layer.tar:<size>`) → diff-id, so a stream push can tell
        /// before reading a layer that it need not compress it.
        var hints: [String: String]?
        /// `<image id> <format>` → what its last push wrote.
        var images: [String: ImageRecord]?
    }

    public let fileURL: URL?
    private var layers: [String: Layer] = [:]
    private var locations: [String: [String]] = [:]
    private var hints: [String: String] = [:]
    private var images: [String: ImageRecord] = [:]
    private var dirty = false
    static let maxLocations = 8
    static let maxImages = 256

    /// A cache in `directory` (created if missing), loaded from its file when there is one;
    /// an unreadable file is ignored (it is only a cache). Nil `directory`: memory only.
    public init(directory: URL?) {
        guard let directory else {
            fileURL = nil
            return
        }
        let url = directory.appendingPathComponent("blob-cache.json")
        fileURL = url
        if let data = try? Data(contentsOf: url), let f = try? JSONDecoder().decode(File.self, from: data), f.version == 1 {
            layers = f.layers
            locations = f.locations
            hints = f.hints ?? [:]
            images = f.images ?? [:]
        }
    }

    public func layer(diffID: String) -> Layer? { layers[diffID] }

    public func record(diffID: String, digest: String, size: Int64) {
        let l = Layer(digest: digest, size: size)
        if layers[diffID] != l {
            layers[diffID] = l
            dirty = true
        }
    }

    /// Forgets a layer whose blob turned out to be wrong.
    public func forget(diffID: String) {
        if layers.removeValue(forKey: diffID) != nil { dirty = true }
    }

    /// The diff-id last seen for an archive member, a guess the caller verifies by hashing.
    public func hint(_ member: String) -> String? { hints[member] }

    public func recordHint(_ member: String, diffID: String) {
        if hints[member] != diffID {
            hints[member] = diffID
            dirty = true
        }
    }

    /// What the last push of the engine image `imageID` (its config digest) in `format` wrote.
    public func image(_ imageID: String, format: ManifestFormat) -> ImageRecord? {
        images["\(imageID) \(format.rawValue)"]
    }

    public func recordImage(_ imageID: String, format: ManifestFormat, _ record: ImageRecord) {
        let key = "\(imageID) \(format.rawValue)"
        if var old = images[key], old.digest == record.digest {
            // Same bytes: refresh the age only now and then, so a re-push need not write the file.
            guard record.pushedAt - old.pushedAt > 86_400 else { return }
            old.pushedAt = record.pushedAt
            images[key] = old
        } else {
            images[key] = record
        }
        if images.count > Self.maxImages {
            let oldest = images.sorted { $0.value.pushedAt < $1.value.pushedAt }.prefix(images.count - Self.maxImages)
            for (k, _) in oldest { images[k] = nil }
        }
        dirty = true
    }

    /// Forgets an image record the registry contradicted.
    public func forgetImage(_ imageID: String, format: ManifestFormat) {
        if images.removeValue(forKey: "\(imageID) \(format.rawValue)") != nil { dirty = true }
    }

    /// Repositories (`registry/repository`) known to hold `digest`, newest first.
    public func repositories(holding digest: String) -> [String] { (locations[digest] ?? []).reversed() }

    public func recordLocation(digest: String, repository: String) {
        var list = locations[digest] ?? []
        if list.last == repository { return }
        list.removeAll { $0 == repository }
        list.append(repository)
        if list.count > Self.maxLocations { list.removeFirst(list.count - Self.maxLocations) }
        locations[digest] = list
        dirty = true
    }

    /// Writes the file atomically if anything changed.
    public func save() throws {
        guard dirty, let fileURL else { return }
        let f = File(version: 1, layers: layers, locations: locations, hints: hints, images: images)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            try FileManager.default.createDirectory(at: fileURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try encoder.encode(f).write(to: fileURL, options: .atomic)
            dirty = false
        } catch {
            throw RegistryError.io("cannot write blob cache", fileURL.path, "\(error)")
        }
    }
}
