import Foundation
import Logging
import Testing
@testable import GitSource
import TestSupport

/// Runs a command, returning stdout; fails the test with stderr when it exits non-zero.
@discardableResult
func sh(_ args: [String], in dir: URL? = nil, input: Data? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = args
    if let dir { process.currentDirectoryURL = dir }
    var env = ProcessInfo.processInfo.environment
    env["GIT_AUTHOR_NAME"] = "Berth Test"
    env["GIT_AUTHOR_EMAIL"] = "test@berth.invalid"
    env["GIT_COMMITTER_NAME"] = "Berth Test"
    env["GIT_COMMITTER_EMAIL"] = "test@berth.invalid"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let inPipe = Pipe()
    if input != nil { process.standardInput = inPipe }
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(input); try inPipe.fileHandleForWriting.close() }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ShellError(message: "\(args.joined(separator: " ")) failed (\(process.terminationStatus)): "
                         + String(decoding: stderr, as: UTF8.self))
    }
    return String(decoding: stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

struct ShellError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A temporary directory removed (read-only snapshots included) when the value is released.
final class TempDir: @unchecked Sendable {
    let url: URL
    init(_ prefix: String = "berth-git") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { GitStore.removeTree(url.path) }
    var path: String { url.path }
}

/// A source repository made with the git CLI:
/// - main: commit 1 (README.md, bin/run.sh executable, link -> README.md, apps/web/compose.yaml,
///   empty-ish nested dirs), tagged `v1.0` (annotated) and `light` (lightweight)
/// - feature: one more commit on top of commit 1
struct SourceRepo {
    let dir: TempDir
    var url: URL { dir.url }

    init() throws {
        dir = try TempDir("berth-src")
        let d = dir.url
        try sh(["git", "init", "-q", "-b", "main"], in: d)
        try write("README.md", "hello berth\n")
        try write("bin/run.sh", "#!/bin/sh\necho run\n", executable: true)
        try write("apps/web/compose.yaml", "services:\n  web:\n    image: berth.local/busybox:latest\n")
        try write("deep/a/b/c.txt", "deep\n")
        try FileManager.default.createSymbolicLink(atPath: d.appendingPathComponent("link").path, withDestinationPath: "README.md")
        try FileManager.default.createSymbolicLink(atPath: d.appendingPathComponent("bin/up").path, withDestinationPath: "../README.md")
        try sh(["git", "add", "-A"], in: d)
        try sh(["git", "commit", "-q", "-m", "first"], in: d)
        try sh(["git", "tag", "-a", "v1.0", "-m", "release 1.0"], in: d)
        try sh(["git", "tag", "light"], in: d)
        try sh(["git", "checkout", "-q", "-b", "feature"], in: d)
        try write("feature.txt", "feature\n")
        try sh(["git", "add", "-A"], in: d)
        try sh(["git", "commit", "-q", "-m", "feature"], in: d)
        try sh(["git", "checkout", "-q", "main"], in: d)
    }

    func write(_ path: String, _ text: String, executable: Bool = false) throws {
        let file = dir.url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path) }
    }

    func revParse(_ rev: String) throws -> String { try sh(["git", "rev-parse", rev], in: dir.url) }

    /// Adds a commit on main and returns its id.
    func commit(_ path: String, _ text: String) throws -> String {
        try write(path, text)
        try sh(["git", "add", "-A"], in: dir.url)
        try sh(["git", "commit", "-q", "-m", "change \(path)"], in: dir.url)
        return try revParse("HEAD")
    }
}

func makeStore(_ state: TempDir, caFile: String? = nil) throws -> GitStore {
    var logger = Logger(label: "test.git")
    logger.logLevel = .warning
    return try GitStore(stateDirectory: state.url, caFile: caFile, logger: logger)
}

/// A `git daemon` for the tests: ops/git-server's when it runs, else one of our own on a free
/// loopback port, killed when released.
final class GitDaemon: @unchecked Sendable {
    let base: URL
    let port: Int
    private let process: Process?
    private let ownBase: TempDir?

    init() throws {
        if let values = OpsSettings.read("git-server"),
           let pidText = try? String(contentsOfFile: OpsSettings.stateDirectory + "/git-server.pid", encoding: .utf8),
           let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 {
            if let base = values["BASE"], let port = values["PORT"].flatMap(Int.init), portAnswers(port) {
                self.base = URL(fileURLWithPath: base)
                self.port = port
                process = nil
                ownBase = nil
                return
            }
        }
        let dir = try TempDir("berth-daemon")
        let port = try freePort()
        let process = Process()
        // The daemon itself, not the `git` wrapper, so the pid we kill is the listener.
        process.executableURL = URL(fileURLWithPath: try sh(["git", "--exec-path"]) + "/git-daemon")
        process.arguments = ["--export-all", "--base-path=\(dir.path)", "--reuseaddr",
                             "--listen=127.0.0.1", "--port=\(port)", dir.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if portAnswers(port) { break }
            usleep(50_000)
        }
        guard portAnswers(port) else {
            stop(process)
            throw ShellError(message: "git daemon did not listen on \(port)")
        }
        self.base = dir.url
        self.port = port
        self.process = process
        ownBase = dir
    }

    deinit {
        if let process { stop(process) }
    }

    /// Publishes a bare copy of `source` under a unique name and returns its git:// URL.
    func publish(_ source: SourceRepo) throws -> (url: String, bare: URL) {
        let name = "berth-test-\(UUID().uuidString.prefix(8)).git"
        let bare = base.appendingPathComponent(name)
        try sh(["git", "clone", "-q", "--bare", source.url.path, bare.path])
        return ("git://127.0.0.1:\(port)/\(name)", bare)
    }
}

/// Foundation starts children with every signal blocked, so SIGTERM would wait forever.
func stop(_ process: Process) {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ShellError(message: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw ShellError(message: "bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

func portAnswers(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// The git servers ops/git-server runs on loopback (git daemon, smart HTTP behind Basic auth,
/// the same over TLS with a private CA, sshd with a passphrase-protected client key), read from
/// the settings file it writes.
struct OpsGitServers: Sendable {
    static let envFile = OpsSettings.path("git-server")

    var base: URL
    var daemonPort: Int
    var httpURL: String
    var httpUser: String
    var httpPassword: String
    var httpsURL: String
    var caFile: String
    var sshURL: String
    var sshPort: Int
    var sshKey: String
    var sshPassphrase: String
    var knownHosts: String

    /// The running servers, or an error saying how to start them.
    static func running() throws -> OpsGitServers {
        let start = "start them with `ops/git-server start` (as root; ops/setup does it)"
        guard let values = OpsSettings.read("git-server") else {
            throw ShellError(message: "\(envFile) is missing: the loopback git servers are not running; \(start)")
        }
        func value(_ key: String) throws -> String {
            guard let v = values[key], !v.isEmpty else { throw ShellError(message: "\(envFile) has no \(key); \(start)") }
            return v
        }
        func port(_ key: String) throws -> Int {
            guard let p = Int(try value(key)) else { throw ShellError(message: "\(envFile): \(key) is not a port") }
            guard portAnswers(p) else { throw ShellError(message: "nothing answers on 127.0.0.1:\(p) (\(key)); \(start)") }
            return p
        }
        _ = try port("HTTP_PORT")
        _ = try port("HTTPS_PORT")
        return OpsGitServers(
            base: URL(fileURLWithPath: try value("BASE")), daemonPort: try port("PORT"),
            httpURL: try value("HTTP_URL"), httpUser: try value("HTTP_USER"), httpPassword: try value("HTTP_PASSWORD"),
            httpsURL: try value("HTTPS_URL"), caFile: try value("CA_FILE"), sshURL: try value("SSH_URL"),
            sshPort: try port("SSH_PORT"), sshKey: try value("SSH_KEY"), sshPassphrase: try value("SSH_KEY_PASSPHRASE"),
            knownHosts: try value("SSH_KNOWN_HOSTS"))
    }

    /// Publishes a bare copy of `source` under the servers' base directory; it is removed when
    /// the returned value is released.
    func publish(_ source: SourceRepo) async throws -> PublishedRepo {
        let name = "berth-test-\(UUID().uuidString.prefix(8)).git"
        let bare = base.appendingPathComponent(name)
        try await run(["git", "clone", "-q", "--bare", source.url.path, bare.path])
        return PublishedRepo(name: name, bare: bare, servers: self)
    }

    var sshCredentials: GitCredentials {
        GitCredentials(ssh: .init(privateKeyPath: sshKey, passphrase: sshPassphrase), knownHostsFile: knownHosts)
    }
}

/// A bare repository the ops git servers serve, with its URL on each of them.
final class PublishedRepo: @unchecked Sendable {
    let name: String
    let bare: URL
    let servers: OpsGitServers

    init(name: String, bare: URL, servers: OpsGitServers) {
        self.name = name
        self.bare = bare
        self.servers = servers
    }

    deinit { GitStore.removeTree(bare.path) }

    var gitURL: String { "git://127.0.0.1:\(servers.daemonPort)/\(name)" }
    var httpURL: String { "\(servers.httpURL)/\(name)" }
    var httpsURL: String { "\(servers.httpsURL)/\(name)" }
    var sshURL: String { "\(servers.sshURL)/\(name)" }

    /// Pushes `main` of `source` to the served repository.
    func push(from source: SourceRepo) async throws {
        try await run(["git", "push", "-q", bare.path, "main"], in: source.url)
    }
}

/// `sh` for async tests: the child runs off the cooperative pool.
@discardableResult
func run(_ args: [String], in dir: URL? = nil) async throws -> String {
    let result = try await Shell.run("/usr/bin/env", args, environment: [
        "GIT_AUTHOR_NAME": "Berth Test", "GIT_AUTHOR_EMAIL": "test@berth.invalid",
        "GIT_COMMITTER_NAME": "Berth Test", "GIT_COMMITTER_EMAIL": "test@berth.invalid", "GIT_CONFIG_NOSYSTEM": "1",
    ], directory: dir?.path)
    guard result.status == 0 else {
        throw ShellError(message: "\(args.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
    }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
