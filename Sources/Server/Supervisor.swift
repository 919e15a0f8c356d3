import Engine
import Foundation
import GitSource
import Logging
import Reconcile
import ServiceLifecycle
import Store
import Registry

/// Every `serve` setting; the CLI fills it from flags and `BERTH_*` variables.
public struct ServeConfiguration: Sendable {
    public var repo: String
    public var ref: String?
    public var credentials: GitCredentials
    public var pollInterval: Duration
    public var stateDirectory: URL
    public var host: String
    public var port: Int
    public var webhookSecret: String?
    public var apiToken: String?
    public var notifyURL: String?
    public var deploy: Deployer.Options
    public var backoff: Duration
    /// Build and push services with `build:` in each sync; nil deploys their `image:` as it is.
    public var build: ReleaseBuilder.Options?
    /// Releases per app whose snapshots survive the clean-up after each sync.
    public var keepReleases: Int

    public init(repo: String, ref: String? = nil, credentials: GitCredentials = GitCredentials(),
                pollInterval: Duration = .seconds(60), stateDirectory: URL, host: String = "127.0.0.1", port: Int = 9420,
                webhookSecret: String? = nil, apiToken: String? = nil, notifyURL: String? = nil,
                deploy: Deployer.Options = Deployer.Options(), backoff: Duration = .seconds(10),
                build: ReleaseBuilder.Options? = nil, keepReleases: Int = 10) {
        self.repo = repo
        self.ref = ref
        self.credentials = credentials
        self.pollInterval = pollInterval
        self.stateDirectory = stateDirectory
        self.host = host
        self.port = port
        self.webhookSecret = webhookSecret
        self.apiToken = apiToken
        self.notifyURL = notifyURL
        self.deploy = deploy
        self.backoff = backoff
        self.build = build
        self.keepReleases = keepReleases
    }

    /// Values that must never appear in a notification: the webhook secret, the API token, and
    /// the git and registry passwords.
    public var secrets: [String] {
        var out = [webhookSecret, apiToken, credentials.ssh?.passphrase].compactMap { $0 }
        switch credentials.http {
        case .token(let token, _)?: out.append(token)
        case .basic(_, let password)?: out.append(password)
        case nil: break
        }
        if let build {
            out += [build.credentials.explicit?.password].compactMap { $0 }
            out += build.credentials.perRegistry.values.map(\.password)
        }
        if let password = ProcessInfo.processInfo.environment["BERTH_REGISTRY_PASSWORD"], !password.isEmpty { out.append(password) }
        return out
    }
}

/// Knows the apps of the repo and their syncers; finds new apps on each poll and webhook.
public actor Supervisor {
    let env: SyncEnvironment
    var syncers: [String: AppSyncer] = [:]
    var loops: [Task<Void, Never>] = []
    /// The full ref name followed (`refs/heads/main`), learnt on the first fetch; webhooks for other refs are ignored.
    public private(set) var followedReference: String?
    public private(set) var started = false
    public private(set) var lastRepoError: String?

    public init(environment: SyncEnvironment) {
        self.env = environment
    }

    /// The name the supervisor's own snapshot reads go by in the SnapshotKeeper (no app has it).
    static let snapshotUser = " supervisor"

    public func syncer(_ name: String) -> AppSyncer? { syncers[name] }

    public func statuses() async -> [AppStatus] {
        var out: [AppStatus] = []
        for name in syncers.keys.sorted() {
            if let s = syncers[name] { out.append(await s.currentStatus()) }
        }
        return out
    }

    /// Ready once the repo was read and every app finished its first sync (or is suspended).
    public func ready() async -> Bool {
        guard started, lastRepoError == nil else { return false }
        for s in syncers.values {
            let st = await s.currentStatus()
            if st.syncs == 0 && !st.suspended { return false }
        }
        return true
    }

    /// Reads the repo head, starts a syncer for each app not seen yet, and triggers them all.
    public func refresh(_ trigger: Trigger) async {
        var commit: String?
        do {
            let head = try await env.source.head()
            followedReference = head.reference ?? followedReference
            commit = head.commit
            // Held while berth.yaml is read, so a clean-up after another app's sync leaves it.
            await env.snapshots?.begin(app: Self.snapshotUser, commit: head.commit)
            let checkout = try await env.source.checkout(commit: head.commit)
            for app in checkout.config.apps where syncers[app.name] == nil {
                let syncer = AppSyncer(name: app.name, environment: env)
                syncers[app.name] = syncer
                loops.append(Task { await syncer.run() })
                env.logger.info("watching app \(app.name) (\(app.path))")
            }
            lastRepoError = nil
        } catch {
            lastRepoError = "\(error)"
            env.logger.error("cannot read the repo: \(error)")
        }
        await env.snapshots?.end(app: Self.snapshotUser)
        started = true
        for s in syncers.values { await s.trigger(trigger, head: commit) }
    }

    /// A container of `app` died or vanished.
    public func containerEvent(app: String) async {
        await syncers[app]?.trigger(.dockerEvent)
    }

    /// Stops every syncer after its sync in flight and waits for them.
    public func stopAll() async {
        for s in syncers.values { await s.stop() }
        for t in loops { await t.value }
        loops = []
    }
}

/// The sync side of `serve` as a lifecycle service: first sync, poll timer, Docker events.
/// On graceful shutdown it stops taking triggers and waits for the syncs in flight.
public struct SyncService: Service {
    let supervisor: Supervisor
    let engine: EngineClient
    let pollInterval: Duration
    let logger: Logger

    public init(supervisor: Supervisor, engine: EngineClient, pollInterval: Duration, logger: Logger) {
        self.supervisor = supervisor
        self.engine = engine
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await supervisor.refresh(.startup)
                while !Task.isCancelled {
                    do { try await Task.sleep(for: pollInterval) } catch { return }
                    await supervisor.refresh(.poll)
                }
            }
            group.addTask { await watchEvents() }
            try? await gracefulShutdown()
            logger.info("shutting down: finishing syncs in flight")
            group.cancelAll()
        }
        await supervisor.stopAll()
    }

    /// Self-heal: a managed container that dies or is removed triggers its app's sync.
    func watchEvents() async {
        while !Task.isCancelled {
            do {
                let events = try await engine.events(filters: ["type": ["container"], "event": ["die", "destroy"],
                                                               "label": [Labels.app]])
                try await withTaskCancellationHandler {
                    for try await event in events {
                        guard let attributes = event.actor?.attributes, let app = attributes[Labels.app] else { continue }
                        let name = attributes["name"] ?? ""
                        // Containers set aside or half-started by a replace come and go on purpose.
                        if name.hasSuffix(Naming.asideSuffix) || name.hasSuffix(Naming.newSuffix) { continue }
                        logger.info("container \(name) of app \(app): \(event.action ?? "?")")
                        await supervisor.containerEvent(app: app)
                    }
                } onCancel: {
                    events.cancel()
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("Docker events stream ended: \(error); reconnecting")
            }
            do { try await Task.sleep(for: .seconds(2)) } catch { return }
        }
    }
}
