import ArgumentParser
import BerthCLI
import Build
import Engine
import Foundation
import GitSource
import Logging
import Registry
import Server
import ServiceLifecycle
import Store
import UnixSignals

/// `berth serve`, run as the `berth-serve` executable (`berth` execs it; see BerthCLI's `ServeLauncher`).
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "berth serve",
        abstract: serveAbstract,
        discussion: """
        Each app of the repo gets its own sync loop. A sync fetches the repo, snapshots the \
        commit, loads and validates the app, plans and applies, and records the release and the \
        run in SQLite under the state directory. Triggers: the poll timer, POST /hooks/git \
        (signed with the webhook secret), a managed container that dies or is removed \
        (self-heal), and the API. Triggers that arrive during a sync coalesce into one.

        With --build, services with `build:` are built at the commit (an unchanged context is \
        reused, not rebuilt), pushed to --registry (else berth.yaml's `registry:`), and deployed \
        by digest; the release records the digests, so a rollback runs the same bytes. Apps \
        with `target: swarm` are deployed as stacks (the engine must be a swarm manager). After \
        each successful sync, git snapshots other than those of each app's last \
        --keep-releases releases are removed.

        A commit that fails leaves the last good release running; the app is Degraded with the \
        error, and the sync is retried when its back-off ends (--retry-backoff, doubling per \
        failure up to 10 minutes), or at the first poll that fetches another commit than the \
        failed one (a fix pushed, or the repo answering again after an outage); a webhook or \
        `berth sync` retries at once. Rollback pins an app to an earlier release until resume. SIGTERM finishes the syncs in flight and exits.

        Every option also reads an environment variable (shown in brackets); a flag wins.

        HTTP: /healthz /readyz /metrics /api/v1/apps[/{app}[/history]] \
        POST /api/v1/apps/{app}/sync|suspend|resume|rollback (bearer token) POST /hooks/git, \
        and / a status page.
        """)

    @Option(help: ArgumentHelp("GitOps repo URL or path [BERTH_REPO].", valueName: "url|path"))
    var repo: String?

    @Option(help: "Branch, tag or commit to follow (default: the remote's default branch) [BERTH_REF].")
    var ref: String?

    @Option(help: "Seconds between polls of the repo [BERTH_POLL_INTERVAL] (default 60).")
    var pollInterval: Double?

    @Option(help: ArgumentHelp("State: SQLite database, git mirrors, snapshots [BERTH_STATE_DIR] (default /var/lib/berth as root, else ~/.local/state/berth).",
                               valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("Address to listen on [BERTH_LISTEN] (default 127.0.0.1:9420).", valueName: "host:port"))
    var listen: String?

    @Option(help: "Secret for X-Hub-Signature-256 on POST /hooks/git; without it webhooks are refused [BERTH_WEBHOOK_SECRET].")
    var webhookSecret: String?

    @Option(help: "Bearer token for the API's POST calls; without it the API is read-only [BERTH_API_TOKEN].")
    var apiToken: String?

    @Option(help: ArgumentHelp("URL that receives a JSON POST after each deploy or failure [BERTH_NOTIFY_URL].", valueName: "url"))
    var notifyURL: String?

    @Option(help: "Remove containers of services deleted from git: true or false (default: each app's `prune`) [BERTH_PRUNE].")
    var prune: Bool?

    @Option(help: "Seconds a container without healthcheck must run to count as ready [BERTH_SETTLE] (default 1).")
    var settle: Double?

    @Option(help: "Seconds a replacement may take to become ready [BERTH_WAIT_TIMEOUT] (default 120).")
    var waitTimeout: Int?

    @Option(help: "Seconds before the first retry of a failed sync; doubles per failure [BERTH_RETRY_BACKOFF] (default 10).")
    var retryBackoff: Double?

    @Flag(inversion: .prefixedNo, help: "Build and push services with `build:` in each sync [BERTH_BUILD] (default off).")
    var build: Bool?

    @Option(help: ArgumentHelp("Registry (and namespace) for built images; default: berth.yaml's `registry:` [BERTH_REGISTRY].",
                               valueName: "host[:port][/path]"))
    var registry: String?

    @Option(help: "Registry user [BERTH_REGISTRY_USER]; the password comes from --registry-password-file or BERTH_REGISTRY_PASSWORD (else ~/.docker/config.json).")
    var registryUser: String?

    @Option(help: ArgumentHelp("File holding the registry password [BERTH_REGISTRY_PASSWORD_FILE].", valueName: "file"))
    var registryPasswordFile: String?

    @Option(help: ArgumentHelp("PEM bundle of CAs to trust for the registry [BERTH_REGISTRY_CA_FILE].", valueName: "file"))
    var registryCAFile: String?

    @Flag(help: "Allow plain http to a registry that is not on loopback [BERTH_REGISTRY_INSECURE].")
    var registryInsecure = false

    @Option(help: "Releases per app whose git snapshots are kept for rollback [BERTH_KEEP_RELEASES] (default 10).")
    var keepReleases: Int?

    public init() {}

    static func env(_ key: String) -> String? { BerthEnvironment.value(key) }

    static func seconds(_ value: Double) -> Duration { .milliseconds(Int((value * 1000).rounded())) }

    func configuration() throws -> ServeConfiguration {
        guard let repo = repo ?? Self.env("BERTH_REPO") else {
            throw ValidationError("name the GitOps repo with --repo or BERTH_REPO")
        }
        func number(_ flag: Double?, _ key: String, _ fallback: Double) throws -> Double {
            if let flag { return flag }
            guard let text = Self.env(key) else { return fallback }
            guard let value = Double(text), value >= 0 else { throw ValidationError("\(key)=\(text) is not a number of seconds") }
            return value
        }
        let listen = listen ?? Self.env("BERTH_LISTEN") ?? "127.0.0.1:9420"
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("listen address \(listen) must be host:port, e.g. 127.0.0.1:9420")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        func flag(_ value: Bool?, _ key: String) throws -> Bool? {
            if let value { return value }
            guard let text = Self.env(key) else { return nil }
            guard let value = Bool(text.lowercased()) ?? (["1", "yes"].contains(text) ? true : ["0", "no"].contains(text) ? false : nil) else {
                throw ValidationError("\(key)=\(text) must be true or false")
            }
            return value
        }
        let prune = try flag(self.prune, "BERTH_PRUNE")
        let keep = try keepReleases ?? Int(number(nil, "BERTH_KEEP_RELEASES", 10))
        guard keep >= 1 else { throw ValidationError("--keep-releases must be at least 1 (the running release)") }
        var buildOptions: ReleaseBuilder.Options?
        if try flag(build, "BERTH_BUILD") == true {
            var explicit: Credentials?
            if let user = registryUser ?? Self.env("BERTH_REGISTRY_USER") {
                var password = Self.env("BERTH_REGISTRY_PASSWORD") ?? ""
                if let file = registryPasswordFile ?? Self.env("BERTH_REGISTRY_PASSWORD_FILE") {
                    do {
                        password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines)
                    } catch {
                        throw ValidationError("cannot read the registry password file \(file): \(error.localizedDescription)")
                    }
                }
                explicit = Credentials(username: user, password: password)
            }
            buildOptions = ReleaseBuilder.Options(
                registry: registry ?? Self.env("BERTH_REGISTRY"), credentials: CredentialStore(explicit: explicit),
                caFile: registryCAFile ?? Self.env("BERTH_REGISTRY_CA_FILE"),
                insecure: try flag(registryInsecure ? true : nil, "BERTH_REGISTRY_INSECURE") ?? false)
        }
        let poll = try number(pollInterval, "BERTH_POLL_INTERVAL", 60)
        let wait = try waitTimeout ?? Int(number(nil, "BERTH_WAIT_TIMEOUT", 120))
        let settleSeconds = try number(settle, "BERTH_SETTLE", 1)
        let backoff = try number(retryBackoff, "BERTH_RETRY_BACKOFF", 10)
        guard poll >= 1 else { throw ValidationError("the poll interval must be at least 1 second") }
        return ServeConfiguration(
            repo: repo, ref: ref ?? Self.env("BERTH_REF"), credentials: GitEnvironment.credentials(),
            pollInterval: Self.seconds(poll), stateDirectory: StateDirectory.resolve(stateDir), host: host.isEmpty ? "0.0.0.0" : host, port: port,
            webhookSecret: webhookSecret ?? Self.env("BERTH_WEBHOOK_SECRET"), apiToken: apiToken ?? Self.env("BERTH_API_TOKEN"),
            notifyURL: notifyURL ?? Self.env("BERTH_NOTIFY_URL"),
            deploy: .init(prune: prune, waitTimeout: .seconds(wait), settle: Self.seconds(settleSeconds)),
            backoff: Self.seconds(backoff), build: buildOptions, keepReleases: keep)
    }

    public func run() async throws {
        let logger = Logger(label: "berth.serve")
        let config = try configuration()
        do {
            let store = try Store(path: config.stateDirectory.appendingPathComponent("berth.sqlite").path)
            let git = try GitStore(stateDirectory: config.stateDirectory, logger: logger)
            let engine = EngineClient(logger: logger)
            let metrics = ServeMetrics()
            let builder = config.build.map {
                ReleaseBuilder(engine: engine, options: $0, stateDirectory: config.stateDirectory, logger: logger)
            }
            let remote = GitRemote(url: config.repo, credentials: config.credentials)
            let env = SyncEnvironment(
                source: RepoSource(store: git, remote: remote, ref: config.ref, logger: logger),
                deployer: Deployer(engine: engine, options: config.deploy, builder: builder, source: remote.description, logger: logger),
                store: store, metrics: metrics, notifier: Notifier(url: config.notifyURL, secrets: config.secrets, logger: logger),
                snapshots: SnapshotKeeper(git: git, store: store, keepReleases: config.keepReleases, logger: logger),
                logger: logger, backoff: config.backoff)
            let supervisor = Supervisor(environment: env)
            let api = HTTPAPI(supervisor: supervisor, store: store, metrics: metrics, webhookSecret: config.webhookSecret,
                              apiToken: config.apiToken, logger: logger)
            logger.info("berth serve: \(GitRemote(url: config.repo).description) on http://\(config.host):\(config.port), state in \(config.stateDirectory.path)")
            let group = ServiceGroup(
                services: [SyncService(supervisor: supervisor, engine: engine, pollInterval: config.pollInterval, logger: logger),
                           api.application(host: config.host, port: config.port),
                           ResidentMemoryService(logger: logger)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        } catch {
            Terminal.printError("\(error)")
            throw ExitCode.failure
        }
    }
}

extension ServeCommand {
    /// Entry point of `berth-serve`: parses, runs, and exits with ArgumentParser's wording of
    /// help and errors.
    public static func start() async -> Never {
        do {
            let command = try parse()
            try await command.run()
            exit()
        } catch {
            exit(withError: error)
        }
    }
}
