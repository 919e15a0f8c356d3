import Foundation
import Logging
import Testing
@testable import GitSource

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

func makeStore(_ state: TempDir) throws -> GitStore {
    var logger = Logger(label: "test.git")
    logger.logLevel = .warning
    return try GitStore(stateDirectory: state.url, logger: logger)
}

/// A `git daemon` for the tests: ops/git-server's when it runs, else one of our own on a free
/// loopback port, killed when released.
final class GitDaemon: @unchecked Sendable {
    let base: URL
    let port: Int
    private let process: Process?
    private let ownBase: TempDir?

    init() throws {
        let env = "/var/lib/berth-ops/git-server.env"
        if let text = try? String(contentsOfFile: env, encoding: .utf8),
           let pidText = try? String(contentsOfFile: "/var/lib/berth-ops/git-server.pid", encoding: .utf8),
           let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 {
            var values: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
            }
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

/// Smart HTTP through `git http-backend` behind a small Python CGI bridge, optionally
/// requiring Basic authentication.
final class GitHTTPServer: @unchecked Sendable {
    let root: TempDir
    let port: Int
    private let process: Process

    static let script = """
    import base64, http.server, os, subprocess, sys
    ROOT, AUTH = sys.argv[1], sys.argv[2]
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def do_GET(self): self.serve()
        def do_POST(self): self.serve()
        def serve(self):
            if AUTH and self.headers.get("Authorization", "") != "Basic " + base64.b64encode(AUTH.encode()).decode():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1", GATEWAY_INTERFACE="CGI/1.1",
                       REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=query,
                       CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                       HTTP_GIT_PROTOCOL=self.headers.get("Git-Protocol", ""), REMOTE_ADDR="127.0.0.1")
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
            sep = b"\\r\\n\\r\\n" if b"\\r\\n\\r\\n" in out else b"\\n\\n"
            head, _, rest = out.partition(sep)
            status, headers = 200, []
            for line in head.decode().splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status": status = int(value.split()[0])
                elif key: headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers: self.send_header(key, value)
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            self.wfile.write(rest)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    server.serve_forever()
    """

    init(auth: String = "") throws {
        root = try TempDir("berth-http")
        let scriptFile = root.url.appendingPathComponent("server.py")
        try Self.script.write(to: scriptFile, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [scriptFile.path, root.path, auth]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is the port the server bound.
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            stop(process)
            throw ShellError(message: "the git http server did not start")
        }
        self.port = port
        self.process = process
    }

    deinit { stop(process) }

    func publish(_ source: SourceRepo) throws -> String {
        let name = "repo-\(UUID().uuidString.prefix(8)).git"
        try sh(["git", "clone", "-q", "--bare", source.url.path, root.url.appendingPathComponent(name).path])
        return "http://127.0.0.1:\(port)/\(name)"
    }
}
