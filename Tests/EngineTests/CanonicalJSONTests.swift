import Foundation
import Testing

@testable import Engine

/// `CanonicalJSON` writes what `JSONEncoder` with sorted keys and unescaped slashes writes, byte
/// for byte: the spec hashes of deployed services depend on it.
@Suite struct CanonicalJSONTests {
    static func reference(_ spec: ServiceSpec) -> Data? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try? encoder.encode(spec)
    }

    /// Every optional of every model type set, lists with an element, maps with entries.
    static func full() -> ServiceSpec {
        let file = SwarmFileTarget(name: "/run/x", uid: "0", gid: "1", mode: 0o440)
        var c = SwarmContainerSpec()
        c.image = "registry:5000/a/b:1@sha256:00ff"
        c.labels = ["b": "2", "a": "1", "B": "3", "é": "4", "a.b": "5", "a-b": "6", "": "7"]
        c.command = ["/bin/sh", "-c"]
        c.args = ["echo \"hi\" \\ / \n\t\u{1}\u{1f}\u{7f} é 😀 \u{2028}"]
        c.hostname = "h"
        c.env = ["A=1", "B=x/y"]
        c.dir = "/w"
        c.user = "1000:1000"
        c.groups = ["g"]
        c.tty = true
        c.openStdin = false
        c.readOnly = true
        var m = Mount(type: "volume", source: "data", target: "/data", readOnly: false)
        m.consistency = "default"
        m.bindOptions = .init(propagation: "rprivate", nonRecursive: true)
        m.volumeOptions = .init(noCopy: true, labels: ["l": "v"], driverConfig: .init(name: "local", options: ["o": "p"]))
        m.tmpfsOptions = .init(sizeBytes: 1 << 20, mode: 0o1777)
        c.mounts = [m]
        c.stopSignal = "SIGTERM"
        c.stopGracePeriod = 1_000_000_000
        c.healthCheck = HealthConfig(test: ["CMD", "true"], interval: 1, timeout: 2, retries: 3, startPeriod: -4)
        c.hosts = ["10.0.0.1 db"]
        c.dnsConfig = DNSConfig(nameservers: ["1.1.1.1"], search: ["x"], options: ["ndots:1"])
        c.secrets = [SecretReference(file: file, secretID: "id", secretName: "s_token_abc")]
        c.configs = [ConfigReference(file: file, configID: "cid", configName: "s_conf_abc")]
        c.initProcess = true
        c.sysctls = ["net.core.somaxconn": "1024"]
        c.capabilityAdd = ["NET_ADMIN"]
        c.capabilityDrop = ["ALL"]
        c.ulimits = [Ulimit(name: "nofile", soft: 1024, hard: 2048)]
        var t = TaskSpec()
        t.containerSpec = c
        var limit = ResourceRequirements.Limit()
        limit.nanoCPUs = 500_000_000
        limit.memoryBytes = 1 << 30
        limit.pids = 100
        var r = ResourceRequirements()
        r.limits = limit
        r.reservations = limit
        t.resources = r
        var restart = SwarmRestartPolicy(condition: "on-failure")
        restart.delay = 5
        restart.maxAttempts = 3
        restart.window = 0
        t.restartPolicy = restart
        var p = Placement()
        p.constraints = ["node.role==manager"]
        p.preferences = [Placement.Preference(spread: "node.labels.zone")]
        p.maxReplicas = 2
        t.placement = p
        t.forceUpdate = 3
        t.networks = [NetworkAttachmentConfig(target: "s_default", aliases: ["web"], driverOpts: ["k": "v"])]
        t.logDriver = SwarmDriver(name: "json-file", options: ["max-size": "1m"])
        var u = ServiceUpdateConfig()
        u.parallelism = 1
        u.delay = 0
        u.failureAction = "rollback"
        u.monitor = 5_000_000_000
        u.maxFailureRatio = 0.25
        u.order = "start-first"
        var port = EndpointPortConfig(protocol: "tcp", targetPort: 80, publishedPort: 8080, publishMode: "ingress")
        port.name = "http"
        var s = ServiceSpec()
        s.name = "s_web"
        s.labels = ["com.docker.stack.namespace": "s"]
        s.taskTemplate = t
        s.mode = ServiceMode(replicated: .init(replicas: 2), global: EmptyObject())
        s.updateConfig = u
        s.rollbackConfig = u
        s.endpointSpec = EndpointSpec(mode: "vip", ports: [port])
        return s
    }

    /// Paths of optionals left nil anywhere in `value`.
    static func nilPaths(_ value: Any, path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return [path] }
            return nilPaths(wrapped, path: path)
        }
        return mirror.children.enumerated().flatMap { i, child in nilPaths(child.value, path: "\(path).\(child.label ?? "\(i)")") }
    }

    @Test func fullSpecMatchesTheEncoder() throws {
        let spec = Self.full()
        // A model field added without a value here would go unchecked: none may be nil.
        #expect(Self.nilPaths(spec).isEmpty, "\(Self.nilPaths(spec))")
        let ours = try #require(CanonicalJSON.encode(spec))
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: try #require(Self.reference(spec)), as: UTF8.self))
    }

    @Test func partialSpecsMatchTheEncoder() throws {
        let full = Self.full()
        var variants: [ServiceSpec] = [ServiceSpec()]
        var a = full
        a.taskTemplate?.containerSpec = SwarmContainerSpec()
        a.mode = .global
        variants.append(a)
        var b = full
        b.taskTemplate?.containerSpec?.mounts = []
        b.taskTemplate?.containerSpec?.labels = [:]
        b.taskTemplate?.networks = nil
        b.endpointSpec = EndpointSpec()
        b.updateConfig = ServiceUpdateConfig()
        variants.append(b)
        var c = full
        c.mode = .replicated(0)
        c.taskTemplate?.resources = ResourceRequirements()
        c.taskTemplate?.containerSpec?.mounts?.append(Mount(type: "bind", source: "/a", target: "/b"))
        variants.append(c)
        for ratio in [0, 1, 0.1, 0.3333333333333333, 1e-7, 123456789.5, 1e21, -0.0] {
            var d = ServiceSpec()
            var u = ServiceUpdateConfig()
            u.maxFailureRatio = ratio
            d.updateConfig = u
            variants.append(d)
        }
        for spec in variants {
            let ours = try #require(CanonicalJSON.encode(spec))
            #expect(String(decoding: ours, as: UTF8.self) == String(decoding: try #require(Self.reference(spec)), as: UTF8.self))
        }
        var nan = ServiceSpec()
        var u = ServiceUpdateConfig()
        u.maxFailureRatio = .nan
        nan.updateConfig = u
        #expect(CanonicalJSON.encode(nan) == nil && Self.reference(nan) == nil)
    }

    /// Random strings in names, labels and lists: escapes and key order as the encoder's.
    @Test func randomStringsMatchTheEncoder() throws {
        var generator = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "ß", "日", "😀", "\u{2028}", "\u{FEFF}", "Ä"]
        func random() -> String {
            String(String.UnicodeScalarView((0..<Int.random(in: 0..<10, using: &generator)).map { _ in pool.randomElement(using: &generator) ?? "a" }))
        }
        for _ in 0..<300 {
            var spec = ServiceSpec()
            spec.name = random()
            spec.labels = Dictionary((0..<Int.random(in: 0..<8, using: &generator)).map { _ in (random(), random()) }, uniquingKeysWith: { a, _ in a })
            var c = SwarmContainerSpec()
            c.env = (0..<3).map { _ in random() }
            c.image = random()
            var t = TaskSpec()
            t.containerSpec = c
            spec.taskTemplate = t
            let ours = try #require(CanonicalJSON.encode(spec))
            #expect(ours == Self.reference(spec))
        }
    }

    @Test func filtersReadBackAsWritten() throws {
        #expect(EngineClient.filtersJSON([:]) == nil)
        #expect(EngineClient.filtersJSON(["label": ["a=b"]]) == #"{"label":["a=b"]}"#)
        let filters = ["label": ["com.docker.stack.namespace=s", "q=\"x\" \\ /\n\u{1}é"], "id": [], "name": ["a", "b"]]
        let json = try #require(EngineClient.filtersJSON(filters))
        #expect(try JSONDecoder().decode([String: [String]].self, from: Data(json.utf8)) == filters)
    }
}
