import ArgumentParser
import BerthYAML
import Curl
import Engine
import FoundationEssentials
import Platform
import Glibc
import GitSource
import Logging

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that this host can run Berth: engine, registry, libraries.",
        discussion: """
        Each check prints one line; a failed check adds one line saying what to do. The exit \
        status is 0 only when every required check passes, so `berth doctor && berth serve` \
        is a safe start-up.

        The engine is found as the docker CLI finds it: DOCKER_HOST (unix:// or tcp://, with \
        DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for TLS), else /var/run/docker.sock.

        Examples:
          berth doctor
          berth doctor --registry 127.0.0.1:5000
          berth doctor --json | jq .ok
        """)

    @Option(help: ArgumentHelp("Also check this registry (HOST[:PORT]). Plain http is used for loopback hosts, https otherwise.",
                               valueName: "host:port"))
    var registry: String?

    @Flag(help: "Print the results as JSON.")
    var json = false

    struct Check: Codable {
        var name: String
        var ok: Bool
        var required: Bool
        var detail: String
        var advice: String?
    }

    struct Result: Codable {
        var ok: Bool
        var version: String
        var checks: [Check]
    }

    func run() async throws {
        let logger = Logger(label: "berth.doctor")
        var checks: [Check] = []
        checks.append(await engineCheck(logger: logger))
        if let registry {
            checks.append(await registryCheck(registry, logger: logger))
        }
        checks += libraryChecks()

        // Advice belongs to failures only.
        checks = checks.map { var c = $0; if c.ok { c.advice = nil }; return c }
        let ok = checks.allSatisfy { $0.ok || !$0.required }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(Result(ok: ok, version: BerthVersion.string, checks: checks))
            print(String(decoding: data, as: UTF8.self))
        } else {
            let tty = isatty(STDOUT_FILENO) == 1
            for check in checks {
                let mark = check.ok ? (tty ? "\u{1B}[32m✔\u{1B}[0m" : "ok  ") : (tty ? "\u{1B}[31m✘\u{1B}[0m" : "FAIL")
                print("\(mark) \(check.name.fitted(to: 9)) \(check.detail)")
                if let advice = check.advice, !check.ok { print("    → \(advice)") }
            }
        }
        if !ok { throw ExitCode(1) }
    }

    private func engineCheck(logger: Logger) async -> Check {
        let endpoint = EngineEndpoint.fromEnvironment()
        let engine = EngineClient(endpoint: endpoint, logger: logger, requestTimeout: .seconds(10))
        do {
            let version = try await engine.version()
            let info = try await engine.info()
            let api = try await engine.apiVersion()
            let swarm = info.swarm?.localNodeState.flatMap { $0.isEmpty ? nil : $0 } ?? "inactive"
            return Check(name: "engine", ok: true, required: true,
                         detail: "\(endpoint): Docker \(version.version ?? "?") (API \(version.apiVersion ?? "?"), using \(api)), "
                             + "storage \(info.driver ?? "?"), swarm \(swarm), \(info.containersRunning ?? 0) running")
        } catch let error as EngineError {
            return Check(name: "engine", ok: false, required: true, detail: "\(endpoint): \(error.message)", advice: error.hint)
        } catch {
            return Check(name: "engine", ok: false, required: true, detail: "\(endpoint): \(error)",
                         advice: "start dockerd (ops/setup does), or point DOCKER_HOST at a running engine")
        }
    }

    private func registryCheck(_ host: String, logger: Logger) async -> Check {
        let hostOnly = host.split(separator: ":").first.map(String.init) ?? host
        let loopback = hostOnly == "localhost" || hostOnly.hasPrefix("127.") || hostOnly == "[::1]"
        let url = "\(loopback ? "http" : "https")://\(host)/v2/"
        let client = HTTPClient(configuration: .init(connectTimeout: .seconds(5)), logger: logger)
        do {
            let response = try await client.send(HTTPRequest(method: .get, url: url, timeout: .seconds(10)))
            let apiVersion = response.headers["Docker-Distribution-API-Version"] ?? "no API version header"
            switch response.status {
            case 200:
                return Check(name: "registry", ok: true, required: true, detail: "\(url) answered 200 (\(apiVersion))")
            case 401:
                let scheme = response.headers["WWW-Authenticate"]?.split(separator: " ").first.map(String.init) ?? "?"
                return Check(name: "registry", ok: true, required: true,
                             detail: "\(url) answered 401: reachable, asks for \(scheme) credentials (\(apiVersion))")
            default:
                return Check(name: "registry", ok: false, required: true, detail: "\(url) answered \(response.status)",
                             advice: "is \(host) an OCI registry? GET /v2/ should answer 200 or 401")
            }
        } catch {
            return Check(name: "registry", ok: false, required: true, detail: "\(url): \(error)",
                         advice: loopback ? "start the registry (ops/setup starts one on 127.0.0.1:5000)"
                                          : "check the address, TLS and firewall; a private CA goes in --registry-ca")
        }
    }

    private func libraryChecks() -> [Check] {
        let curl = CurlLibrary.info
        let git = GitLibrary.supportsHTTPSAndSSH
        // Both are opened with dlopen on first use, so a missing one shows here, not at start-up.
        let curlCheck = curl.loadError.map {
            Check(name: "libcurl", ok: false, required: true, detail: "cannot load \(CurlLibrary.soname): \($0)",
                  advice: "install libcurl 7.40 or newer (Debian/Ubuntu: apt-get install \(CurlLibrary.package))")
        } ?? Check(name: "libcurl", ok: curl.unixSockets, required: true,
                   detail: "\(curl.version) (\(curl.ssl ?? "no TLS")), unix sockets \(curl.unixSockets ? "yes" : "no")",
                   advice: "install libcurl 7.40 or newer (unix socket support)")
        let gitCheck = GitLibrary.loadError.map {
            Check(name: "libgit2", ok: false, required: true, detail: "cannot load \(GitLibrary.soname): \($0)",
                  advice: "install \(GitLibrary.package) (Debian/Ubuntu: apt-get install \(GitLibrary.package))")
        } ?? Check(name: "libgit2", ok: true, required: true,
                   detail: "\(GitLibrary.version) (https \(git.https ? "yes" : "no"), ssh \(git.ssh ? "yes" : "no"))")
        return [
            curlCheck,
            gitCheck,
            Check(name: "libyaml", ok: true, required: true, detail: YAMLLibrary.version),
        ]
    }
}
