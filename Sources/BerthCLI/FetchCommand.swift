import ArgumentParser
import Curl
import FoundationEssentials
import Platform
import Glibc
import Logging

/// `berth fetch URL --output FILE`: a hidden debugging command that downloads through Berth's
/// HTTP client exactly as the registry and engine clients do (streaming, back-pressure), so
/// the client's memory and speed can be measured on its own (ops/bench/curl).
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a URL to a file through Berth's HTTP client (debugging).",
        discussion: """
        The body is streamed to the file as it arrives; memory stays flat whatever its size. \
        With --stats, one JSON line on stdout reports bytes, seconds and the peak resident \
        memory of this process (VmHWM).

        Examples:
          berth fetch http://127.0.0.1:5000/v2/ --output -
          berth fetch --unix-socket /var/run/docker.sock http://localhost/version -o /dev/stdout
          berth fetch http://127.0.0.1:8000/big.bin -o /dev/null --stats
        """,
        shouldDisplay: false)

    @Argument(help: "The URL to GET (http:// or https://).")
    var url: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the body; - for stdout.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("Connect to this unix socket instead of the URL's host.", valueName: "path"))
    var unixSocket: String?

    @Flag(help: "Skip TLS certificate checks (testing only).")
    var insecure = false

    @Flag(help: "Write each chunk on the transfer's thread (HTTPClient.send(_:sink:)) instead of through the async body stream; for comparing the two paths. The status is known only at the end.")
    var sink = false

    @Flag(help: "Print {\"bytes\", \"seconds\", \"peakResidentBytes\", \"status\"} as JSON on stdout (stderr with -o -).")
    var stats = false

    struct Stats: Codable {
        var status: Int
        var bytes: Int64
        var seconds: Double
        var peakResidentBytes: Int64?
    }

    func run() async throws {
        let logger = Logger(label: "berth.fetch")
        let client = HTTPClient(configuration: .init(insecure: insecure), logger: logger)
        let file: File
        if output == "-" {
            file = File.standardOutput
        } else {
            // open(2) rather than FileManager: /dev/null and FIFOs must be written in place.
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ValidationError("cannot write \(output): \(String(cString: strerror(errno))); check the path and its folder")
            }
            file = File(fileDescriptor: fd, closeOnDealloc: true)
        }

        let start = ContinuousClock.now
        let request = HTTPRequest(method: .get, url: url, unixSocketPath: unixSocket)
        let status: Int
        var bytes: Int64 = 0
        if sink {
            let count = ByteCount()
            let head = try await client.send(request, sink: { chunk in
                try file.write(contentsOf: chunk)
                count.add(chunk.count)
            })
            status = head.status
            bytes = count.value
        } else {
            let response = try await client.stream(request)
            status = response.status
            if (200..<300).contains(status) {
                for try await chunk in response.body {
                    // A blocking write is fine here: it is bounded by the disk and this
                    // process does nothing else.
                    try file.write(contentsOf: chunk)
                    bytes += Int64(chunk.count)
                }
            } else {
                response.body.cancel()
            }
        }
        guard (200..<300).contains(status) else {
            File.standardError.write(Data("error: GET \(url) answered \(status)\n".utf8))
            throw ExitCode(1)
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if stats {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(
                Stats(status: status, bytes: bytes, seconds: seconds, peakResidentBytes: Self.peakResidentBytes()))
            // With the body on stdout, the report goes to stderr.
            let line = Data((String(decoding: data, as: UTF8.self) + "\n").utf8)
            (output == "-" ? File.standardError : File.standardOutput).write(line)
        }
    }

    /// `VmHWM` from /proc/self/status: the most this process has had resident.
    static func peakResidentBytes() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kb = Int64(fields[1]) { return kb * 1024 }
        }
        return nil
    }
}

/// Bytes written by the sink, which runs on the transfer's thread.
private final class ByteCount: @unchecked Sendable {
    private let lock = Lock()
    private var n: Int64 = 0
    func add(_ k: Int) { lock.withLock { n += Int64(k) } }
    var value: Int64 { lock.withLock { n } }
}
