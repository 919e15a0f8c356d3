import Foundation
import Testing
import BerthYAML
@testable import Compose

@Suite struct ModelTests {
    @Test func fullServiceDecodes() throws {
        let p = try TempProject([
            "compose.yaml": """
                name: shop
                services:
                  api:
                    build:
                      context: ./api
                      args: [VERSION=1]
                      target: prod
                    image: registry.local/api:${TAG:-dev}
                    entrypoint: ["/bin/api"]
                    command: serve --port 8080
                    env_file:
                      - path: ./missing.env
                        required: false
                      - api.env
                    environment:
                      FROM_ENV: explicit
                    expose: [9000]
                    ports:
                      - target: 8080
                        published: 80
                        host_ip: 0.0.0.0
                    networks:
                      back:
                        aliases: [api-internal]
                        ipv4_address: 172.30.0.10
                        priority: 100
                      front: {}
                    depends_on:
                      db:
                        condition: service_healthy
                        restart: true
                    healthcheck:
                      test: ["CMD", "true"]
                      interval: 10s
                      timeout: 2s
                      retries: 3
                      start_period: 1m
                    restart: on-failure:3
                    labels: {tier: api}
                    user: "1000:1000"
                    working_dir: /srv
                    hostname: api
                    domainname: local
                    extra_hosts: ["db.local:10.0.0.2", "v6=::1"]
                    dns: 1.1.1.1
                    dns_search: [corp]
                    cap_add: [NET_ADMIN]
                    cap_drop: [ALL]
                    privileged: false
                    read_only: true
                    init: true
                    stop_signal: SIGINT
                    stop_grace_period: 1m30s
                    ulimits:
                      nofile: {soft: 1024, hard: 2048}
                      nproc: 512
                    sysctls: [net.core.somaxconn=1024]
                    logging:
                      driver: json-file
                      options: {max-size: 10m}
                    secrets: [token]
                    configs:
                      - source: conf
                        target: /etc/api.conf
                        mode: 0440
                    deploy:
                      mode: replicated
                      replicas: ${REPLICAS}
                      endpoint_mode: vip
                      labels: [a=b]
                      resources:
                        limits: {cpus: "0.5", memory: 256M, pids: 100}
                        reservations: {memory: 64m}
                      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 2m}
                      update_config: {parallelism: 2, delay: 10s, order: start-first, failure_action: rollback}
                      rollback_config: {parallelism: 1}
                      placement:
                        constraints: [node.role==manager]
                        preferences: [{spread: node.labels.zone}]
                    tmpfs: /tmp
                    devices: ["/dev/fuse:/dev/fuse:rwm"]
                    platform: linux/amd64
                    pull_policy: if_not_present
                    container_name: shop-api
                    shm_size: 64m
                    mem_limit: 1g
                    cpus: 1.5
                    tty: true
                    stdin_open: true
                    volumes:
                      - type: tmpfs
                        target: /cache
                        tmpfs: {size: 10m}
                      - type: bind
                        source: ./conf
                        target: /conf
                        read_only: true
                  db:
                    image: postgres
                    pid: host
                    ipc: shareable
                    network_mode: bridge
                    scale: 2
                networks:
                  back:
                    driver: bridge
                    ipam:
                      config: [{subnet: 172.30.0.0/16}]
                  front:
                    external: true
                volumes:
                  data: {driver: local}
                secrets:
                  token: {file: ./token.txt}
                configs:
                  conf: {content: "x=1"}
                x-owner: team-a
                """,
            "api.env": "FROM_FILE=yes\nFROM_ENV=file\n",
        ])
        defer { p.remove() }
        let project = try p.load(env: ["REPLICAS": "3"])
        #expect(project.name == "shop")
        let api = try #require(project.service(named: "api"))
        #expect(api.build?.context == p.dir + "/api")
        #expect(api.build?.args == ["VERSION": "1"])
        #expect(api.build?.dockerfile == "Dockerfile")
        #expect(api.image == "registry.local/api:dev")
        #expect(api.entrypoint == ["/bin/api"])
        #expect(api.command == ["serve", "--port", "8080"])
        #expect(api.environment["FROM_FILE"] == .some("yes"))
        #expect(api.environment["FROM_ENV"] == .some("explicit"))
        #expect(api.envFiles.count == 2 && api.envFiles[0].required == false)
        #expect(api.expose == ["9000"])
        #expect(api.ports == [PortConfig(hostIP: "0.0.0.0", target: 8080, published: "80")])
        #expect(api.networks["back"]?.aliases == ["api-internal"])
        #expect(api.networks["back"]?.ipv4Address == "172.30.0.10")
        #expect(api.networks["back"]?.priority == 100)
        #expect(api.dependsOn["db"] == Dependency(condition: "service_healthy", restart: true, required: true))
        #expect(api.healthcheck?.test == ["CMD", "true"])
        #expect(api.healthcheck?.interval == .seconds(10))
        #expect(api.healthcheck?.startPeriod == .seconds(60))
        #expect(api.healthcheck?.retries == 3)
        #expect(api.restart == "on-failure:3")
        #expect(api.labels == ["tier": "api"])
        #expect(api.user == "1000:1000")
        #expect(api.extraHosts == ["db.local=10.0.0.2", "v6=::1"])
        #expect(api.dns == ["1.1.1.1"])
        #expect(api.readOnly && api.initProcess == true && api.tty && api.stdinOpen)
        #expect(api.stopGracePeriod == .seconds(90))
        #expect(api.ulimits["nofile"] == Ulimit(soft: 1024, hard: 2048))
        #expect(api.ulimits["nproc"] == Ulimit(soft: 512, hard: 512))
        #expect(api.sysctls == ["net.core.somaxconn": "1024"])
        #expect(api.logging == Logging(driver: "json-file", options: ["max-size": "10m"]))
        #expect(api.secrets == [FileReference(source: "token")])
        #expect(api.configs.first?.mode == 0o440 || api.configs.first?.mode == 440)
        #expect(api.deploy?.replicas == 3)
        #expect(api.replicas == 3)
        #expect(api.deploy?.resources.limits?.memory == Int64(256 * 1024 * 1024))
        #expect(api.deploy?.resources.limits?.cpus == 0.5)
        #expect(api.deploy?.updateConfig?.order == "start-first")
        #expect(api.deploy?.restartPolicy?.window == .seconds(120))
        #expect(api.deploy?.placement?.constraints == ["node.role==manager"])
        #expect(api.deploy?.placement?.preferences == ["node.labels.zone"])
        #expect(api.tmpfs == ["/tmp"])
        #expect(api.devices == [Device(source: "/dev/fuse", target: "/dev/fuse", permissions: "rwm")])
        #expect(api.pullPolicy == "missing")
        #expect(api.shmSize == Int64(64 * 1024 * 1024))
        #expect(api.memLimit == Int64(1024 * 1024 * 1024))
        #expect(api.cpus == 1.5)
        #expect(api.volumes[0].type == "tmpfs" && api.volumes[0].tmpfsSize == 10 * 1024 * 1024)
        #expect(api.volumes[1].source == p.dir + "/conf" && api.volumes[1].readOnly)
        let db = try #require(project.service(named: "db"))
        #expect(db.networks.isEmpty && db.networkMode == "bridge")
        #expect(db.replicas == 2)
        #expect(project.networks["back"]?.name == "shop_back")
        #expect(project.networks["back"]?.ipam?.config.first?.subnet == "172.30.0.0/16")
        #expect(project.networks["front"]?.name == "front" && project.networks["front"]?.external == true)
        #expect(project.volumes["data"]?.name == "shop_data")
        #expect(project.secrets["token"]?.file == p.dir + "/token.txt")
        #expect(project.configs["conf"]?.content == "x=1")
        #expect(project.extensions["x-owner"]?.string == "team-a")
        #expect(try project.servicesInDependencyOrder().map(\.name) == ["db", "api"])
    }

    @Test func dependencyOrderFollowsNetworkModeAndVolumesFrom() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  app: {image: x, network_mode: "service:vpn", volumes_from: ["data:ro"]}
                  vpn: {image: x}
                  data: {image: x}
                  web: {image: x, depends_on: [app]}
                """,
        ])
        defer { p.remove() }
        #expect(try p.load().servicesInDependencyOrder().map(\.name) == ["data", "vpn", "app", "web"])

        let cycle = try TempProject([
            "compose.yaml": """
                services:
                  a: {image: x, network_mode: "service:b"}
                  b: {image: x, volumes_from: [a]}
                  c: {image: x}
                """,
        ])
        defer { cycle.remove() }
        // The loader already refuses the cycle, naming its path.
        let error = #expect(throws: ComposeError.self) { try cycle.load() }
        #expect(error?.message == "dependency cycle detected: a -> b -> a")
    }

    @Test func envFileFlagReplacesDotEnv() throws {
        let p = try TempProject([
            "compose.yaml": "services:\n  a:\n    image: \"x:${TAG}\"\n",
            ".env": "TAG=dotenv\n",
            "ci.env": "TAG=ci\n",
        ])
        defer { p.remove() }
        #expect(try p.load().service(named: "a")?.image == "x:dotenv")
        #expect(try p.load(envFiles: ["ci.env"]).service(named: "a")?.image == "x:ci")
    }

    @Test func multiFileUnicityAndDependencySelection() throws {
        let p = try TempProject([
            "a.yaml": "services:\n  web:\n    image: x\n    volumes: [\"./one:/data\"]\n    depends_on: [db]\n  db:\n    image: y\n  other:\n    image: z\n",
            "b.yaml": "services:\n  web:\n    volumes: [\"./two:/data\"]\n",
        ])
        defer { p.remove() }
        let project = try p.load(files: ["a.yaml", "b.yaml"], services: ["web"])
        #expect(project.services.map(\.name) == ["db", "web"])
        #expect(project.service(named: "web")?.volumes.map(\.source) == [p.dir + "/two"])
    }

    @Test func aliasBombInComposeFileIsRefused() throws {
        var text = "x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...8 { text += "x-a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]\n" }
        text += "services:\n  a:\n    image: x\n"
        let p = try TempProject(["compose.yaml": text])
        defer { p.remove() }
        #expect(p.error().contains("alias bomb"))
    }

    @Test func includeCycleIsAnError() throws {
        let p = try TempProject([
            "compose.yaml": "include: [b.yaml]\nservices:\n  a:\n    image: x\n",
            "b.yaml": "include: [compose.yaml]\nservices:\n  b:\n    image: x\n",
        ])
        defer { p.remove() }
        #expect(p.error().contains("include cycle"))
    }

    @Test func requiredEnvFileMissing() throws {
        let p = try TempProject(["compose.yaml": "services:\n  a:\n    image: x\n    env_file: nope.env\n"])
        defer { p.remove() }
        let message = p.error()
        #expect(message.hasPrefix("compose.yaml:4:15:") && message.contains("nope.env not found"), "\(message)")
    }

    @Test func versionIsDroppedAndNoFileIsAnError() throws {
        let p = try TempProject(["compose.yaml": "version: \"3.8\"\nservices:\n  a:\n    image: x\n"])
        defer { p.remove() }
        #expect(try p.load().document["version"] == nil)
        let empty = try TempProject(["readme.txt": "nothing"])
        defer { empty.remove() }
        #expect(empty.error().contains("no configuration file provided"))
    }

    @Test func interpolatedValuesAreCastLikeCompose() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  a:
                    image: x
                    privileged: "${P}"
                    cpus: "${C}"
                    deploy:
                      replicas: "${N}"
                    ports:
                      - target: "${N}"
                        published: ${N}
                """,
        ])
        defer { p.remove() }
        let project = try p.load(env: ["P": "yes", "C": "0.25", "N": "3"])
        let a = try #require(project.service(named: "a"))
        #expect(a.privileged && a.cpus == 0.25 && a.replicas == 3)
        #expect(a.ports == [PortConfig(target: 3, published: "3")])
        #expect(project.document["services"]?["a"]?["deploy"]?["replicas"]?.value == .int(3))
        let message = p.error(env: ["P": "maybe", "C": "1", "N": "1"])
        #expect(message == "compose.yaml:4:17: services.a.privileged: \"maybe\" is not a boolean (use true or false)")
    }
}
