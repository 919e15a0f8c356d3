import Foundation
import TestSupport
import Testing

/// The swarm target on two nodes: the manager and a worker that ops/swarm-multinode runs as two
/// more dockerd instances in their own network namespaces, with a registry both pull from.
/// What one node cannot show: replicas spread over nodes, a worker pulling the digest Berth
/// pinned, overlay traffic between nodes, and a rolling update across both.
@Suite(.serialized, .enabled(if: MultiNode.cluster != nil, "run ops/swarm-multinode up first (ops/test does)"))
struct SwarmMultiNodeTests {
    @Test func deploysAcrossTwoNodesPinsDigestsAndRollsBoth() async throws {
        let cluster = try #require(MultiNode.cluster)
        let stack = TestNames.unique("mn")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(stack)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            try await run(cluster: cluster, stack: stack, dir: dir)
        } catch {
            await Self.cleanUp(cluster: cluster, stack: stack, dir: dir)
            throw error
        }
        await Self.cleanUp(cluster: cluster, stack: stack, dir: dir)
    }

    /// A worker refuses the service list; the error says which engine, that it is a worker,
    /// and what to do, and nothing is created.
    @Test func aWorkerIsRefusedWithWhatToDo() async throws {
        let cluster = try #require(MultiNode.cluster)
        let stack = TestNames.unique("mnw")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(stack).yaml")
        try "services:\n  web:\n    image: berth.local/busybox:latest\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try await Shell.run(Host.berthBinary, ["reconcile", "--swarm", "-p", stack, "-f", file.path],
                                    environment: ["DOCKER_HOST": cluster.worker])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is not a swarm manager (swarm state: active, worker node)"), "\(r.stderr)")
        #expect(r.stderr.contains(cluster.worker) && r.stderr.contains("DOCKER_HOST"), "\(r.stderr)")
        let created = try await Shell.run("/usr/bin/docker", ["-H", cluster.worker, "network", "ls", "-q", "--filter", "name=\(stack)"])
        #expect(created.stdout.isEmpty)
    }

    static func cleanUp(cluster: MultiNode.Cluster, stack: String, dir: URL) async {
        // The services go; swarm removes their containers on each node by itself.
        _ = try? await Shell.run("/usr/bin/docker", ["-H", cluster.manager, "stack", "rm", stack])
        try? FileManager.default.removeItem(at: dir)
    }

    private func run(cluster: MultiNode.Cluster, stack: String, dir: URL) async throws {
        let image = "\(cluster.registry)/mn/busybox:latest"
        func writeStack(version: String) throws {
            try """
            services:
              web:
                image: \(image)
                command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
                environment:
                  VERSION: "\(version)"
                labels:
                  dev.berth.test: "1"
                deploy:
                  replicas: 2
                  endpoint_mode: dnsrr
                  placement:
                    max_replicas_per_node: 1
                  update_config:
                    # start-first cannot work here: with one replica per node allowed, the
                    # new task has nowhere to go while the old one runs.
                    order: stop-first
                    parallelism: 1
              probe:
                image: \(image)
                command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                labels:
                  dev.berth.test: "1"
                deploy:
                  mode: global
            """.write(to: dir.appendingPathComponent("stack.yaml"), atomically: true, encoding: .utf8)
        }
        func berth(_ args: [String]) async throws -> Shell.Result {
            try await Shell.run(Host.berthBinary, args + ["--swarm", "-p", stack, "-f", dir.appendingPathComponent("stack.yaml").path],
                                environment: ["DOCKER_HOST": cluster.manager])
        }
        func docker(_ host: String, _ args: [String]) async throws -> String {
            let r = try await Shell.run("/usr/bin/docker", ["-H", host] + args)
            #expect(r.status == 0, "docker \(args.joined(separator: " ")): \(r.stderr)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// Running tasks of a service as (node ID, overlay address without prefix length).
        func tasks(_ service: String) async throws -> [(node: String, address: String)] {
            let ids = try await docker(cluster.manager, ["service", "ps", "-q", "--filter", "desired-state=running", "\(stack)_\(service)"])
                .split(separator: "\n").map(String.init)
            guard !ids.isEmpty else { return [] }
            let lines = try await docker(cluster.manager, ["inspect", "--format",
                "{{.NodeID}} {{.Status.State}} {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}"] + ids)
            return lines.split(separator: "\n").compactMap { line in
                let f = line.split(separator: " ").map(String.init)
                guard f.count >= 3, f[1] == "running" else { return nil }
                return (f[0], String(f[2].split(separator: "/")[0]))
            }
        }
        // The manager resolves the tag to its registry digest; the worker has never seen this
        // reference and must pull the pinned digest from the registry.
        _ = try await docker(cluster.manager, ["pull", "-q", image])
        try writeStack(version: "1")
        let first = try await berth(["reconcile"])
        #expect(first.status == 0, "first deploy: \(first.stdout)\(first.stderr)")

        let nodes = Set(try await docker(cluster.manager, ["node", "ls", "-q"]).split(separator: "\n").map(String.init))
        #expect(nodes.count == 2)
        let web = try await tasks("web")
        #expect(web.count == 2)
        #expect(Set(web.map(\.node)) == nodes, "max_replicas_per_node 1 puts one web task on each node")
        #expect(Set(try await tasks("probe").map(\.node)) == nodes, "a global service runs on every node")
        let pinned = try await docker(cluster.manager, ["service", "inspect", "--format",
                                                        "{{.Spec.TaskTemplate.ContainerSpec.Image}}", "\(stack)_web"])
        #expect(pinned.hasPrefix("\(image)@sha256:"), "pinned by digest: \(pinned)")

        // Overlay traffic between nodes: the worker's probe reaches both web tasks, one of which
        // runs on the manager.
        let probeOnWorker = try await docker(cluster.worker, ["ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(stack)_probe"])
        #expect(!probeOnWorker.isEmpty)
        for task in web {
            let r = try await Shell.run("/usr/bin/docker", ["-H", cluster.worker, "exec", probeOnWorker,
                                                            "wget", "-q", "-O", "/dev/null", "http://\(task.address):8080/passwd"])
            #expect(r.status == 0, "worker → web task on node \(task.node) at \(task.address): \(r.stderr)")
        }

        let noop = try await berth(["reconcile", "--dry-run", "--exit-code"])
        #expect(noop.status == 0, "a dry-run right after the deploy shows no changes: \(noop.stdout)")

        // A rolling update over both nodes, one task at a time; afterwards both tasks run the new spec.
        try writeStack(version: "2")
        let update = try await berth(["reconcile"])
        #expect(update.status == 0, "rolling update: \(update.stdout)\(update.stderr)")
        let state = try await docker(cluster.manager, ["service", "inspect", "--format", "{{.UpdateStatus.State}}", "\(stack)_web"])
        #expect(state == "completed")
        let updated = try await tasks("web")
        #expect(Set(updated.map(\.node)) == nodes)
        for node in [cluster.manager, cluster.worker] {
            let id = try await docker(node, ["ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(stack)_web"])
            let env = try await docker(node, ["inspect", "--format", "{{range .Config.Env}}{{.}} {{end}}", id])
            #expect(env.contains("VERSION=2"), "\(node): \(env)")
        }
        let after = try await berth(["reconcile", "--dry-run", "--exit-code"])
        #expect(after.status == 0)
    }
}

/// The cluster ops/swarm-multinode wrote down, if it runs.
enum MultiNode {
    struct Cluster: Sendable {
        let manager: String
        let worker: String
        let registry: String
    }

    /// Nil unless both engines listen: the settings file outlives the cluster (a machine
    /// restarted, `ops/swarm-multinode down` not run), and then the suite is skipped, not failed.
    static let cluster: Cluster? = {
        guard let values = OpsSettings.read("swarm-multinode") else { return nil }
        guard let manager = values["MANAGER_HOST"], let worker = values["WORKER_HOST"], let registry = values["REGISTRY"],
              listens(manager), listens(worker)
        else { return nil }
        return Cluster(manager: manager, worker: worker, registry: registry)
    }()

    /// Whether something accepts connections on a `unix://` engine address.
    static func listens(_ host: String) -> Bool {
        guard host.hasPrefix("unix://") else { return false }
        let path = Array(host.dropFirst("unix://".count).utf8)
        var address = sockaddr_un()
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.enumerated() { buffer[i] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }
}
