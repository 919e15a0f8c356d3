import ArgumentParser
import Build
import Curl
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging
import Registry

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image from the engine to a registry over libcurl.",
        discussion: """
        The image is exported from the engine (`GET /images/{name}/get`, the `docker save` \
        format) and streamed through the push: each layer is gzip-compressed once, on every core, \
        into the same bytes for any number of cores, while the export is still running; blobs the \
        registry has are skipped, blobs it has in another repository are mounted, the rest \
        uploaded a few at a time; config, then manifest, last. A cache in $BERTH_STATE_DIR maps \
        layers to their compressed digests, so an unchanged layer is never compressed twice, and \
        records each pushed image: pushing the same engine image again only checks with HEAD \
        requests that the registry has its blobs and manifest, without exporting anything.

        Credentials: --username with --password-stdin, else BERTH_REGISTRY_USER and \
        BERTH_REGISTRY_PASSWORD, else ~/.docker/config.json (`docker login`). Plain http is used \
        for loopback registries (127.0.0.0/8, ::1, localhost) and with --insecure; https otherwise.

        Examples:
          berth push berth.local/busybox:latest --to 127.0.0.1:5000/demo/busybox:1
          echo "$TOKEN" | berth push web:1 --to registry.example.com/acme/web:1 --username ci --password-stdin
          berth push web:1 --to 127.0.0.1:5000/acme/web:1 --format oci --output json
        """)

    @Argument(help: ArgumentHelp("The local image (name[:tag] or id).", valueName: "image"))
    var image: String

    @Option(help: ArgumentHelp("Where to push: [registry[:port]/]repository[:tag].", valueName: "reference"))
    var to: String

    @Option(help: "Manifest format: docker (schema 2, default) or oci.")
    var format: ManifestFormatArgument = .docker

    @Option(help: "Registry user name (password from --password-stdin).")
    var username: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the registry password from standard input.")
    var passwordStdin = false

    @Flag(help: "Allow plain http to a registry that is not on loopback.")
    var insecure = false

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("PEM bundle of CAs to trust for the registry (default: $BERTH_REGISTRY_CA).", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where the blob cache lives (default: $BERTH_STATE_DIR, else /var/lib/berth as root, else ~/.local/state/berth).",
        valueName: "dir"))
    var stateDir: String?

    @Flag(name: .customLong("no-cache"), help: "Neither read nor write the blob cache.")
    var noCache = false

    @Option(help: "text or json (the result on stdout).")
    var output: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    enum ManifestFormatArgument: String, ExpressibleByArgument, CaseIterable {
        case docker, oci
        var value: ManifestFormat { self == .oci ? .oci : .docker }
    }

    func validate() throws {
        if passwordStdin && username == nil { throw ValidationError("--password-stdin needs --username") }
    }

    var stateDirectory: URL { StateDirectory.resolve(stateDir) }

    func run() async throws {
        let logger = Logger(label: "berth.push")
        let ref = try ImageReference.parse(to)
        var explicit: Credentials?
        if let username {
            var password = ""
            if passwordStdin {
                let data = File.standardInput.readDataToEndOfFile()
                password = String(decoding: data, as: UTF8.self).trimming(.newlines)
            }
            explicit = Credentials(username: username, password: password)
        }
        let pusher = ImagePusher(credentials: CredentialStore(explicit: explicit, logger: logger), caFile: caFile,
                                 insecure: insecure, cacheDirectory: noCache ? nil : stateDirectory, logger: logger)
        let start = ContinuousClock.now
        let result = try await pusher.push(image, to: ref, format: format.value)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18

        switch output {
        case .json:
            struct Out: Encodable {
                var reference: String
                var digest: String
                var pinned: String
                var mediaType: String
                var bytesUploaded: Int64
                var blobsUploaded: Int
                var blobsMounted: Int
                var blobsSkipped: Int
                var layersCompressed: Int
                /// Pushed from the cache's record of an earlier push, without an export.
                var fromCache: Bool
                var seconds: Double
            }
            let out = Out(reference: ref.description, digest: result.digest, pinned: result.pinnedReference,
                mediaType: result.mediaType, bytesUploaded: result.bytesUploaded, blobsUploaded: result.blobsUploaded,
                blobsMounted: result.blobsMounted, blobsSkipped: result.blobsSkipped,
                layersCompressed: result.layersCompressed, fromCache: result.fromRecord, seconds: seconds)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        case .text:
            print("pushed \(result.pinnedReference)\(result.fromRecord ? " (from the cache: nothing exported)" : "")")
            print("  \(result.blobsUploaded) uploaded (\(Number.fixed(Double(result.bytesUploaded) / 1e6, digits: 1)) MB), "
                + "\(result.blobsMounted) mounted, \(result.blobsSkipped) already there; "
                + "\(result.layersCompressed) of \(result.layers.count) layers compressed; \(Number.fixed(seconds, digits: 2)) s")
        }
    }
}
