import Foundation
import Logging
import TestSupport
import Testing
import BerthYAML
@testable import Compose

@Suite struct SwarmTests {
    static let stack = """
        services:
          web:
            image: registry.local/web:1
            build: ./web
            container_name: web
            restart: always
            depends_on: [db]
            ports: ["80:80"]
            deploy:
              replicas: 2
          db:
            image: postgres:16
            restart: on-failure
            network_mode: host
            volumes_from: [data]
            cap_add: [NET_ADMIN]
            deploy:
              restart_policy:
                condition: on-failure
          data:
            image: busybox
        """

    @Test func stackWarningsNameFileLineAndAdvice() throws {
        let p = try TempProject(["stack.yaml": Self.stack, "web/Dockerfile": "FROM scratch\n"])
        defer { p.remove() }
        let project = try p.load(files: ["stack.yaml"])
        let warnings = ProjectLoader.swarmWarnings(project)
        let found = warnings.map { "\($0.service).\($0.attribute)" }
        // Services come in name order; within a service, attributes in canonical (sorted) order.
        // db's depends_on on data was added by the loader for volumes_from: no warning of its own.
        #expect(found == ["db.network_mode", "db.restart", "db.volumes_from",
                          "web.build", "web.container_name", "web.depends_on", "web.restart"])
        let build = try #require(warnings.first { $0.attribute == "build" })
        #expect(build.mark?.line == 4)
        #expect(build.mark?.column == 5)
        #expect(build.description.hasPrefix("stack.yaml:4:5: services.web.build is ignored by swarm"))
        #expect(build.description.contains("berth build --push"))
        let restart = try #require(warnings.first { $0.service == "web" && $0.attribute == "restart" })
        #expect(restart.advice.contains("deploy.restart_policy"))
        let dbRestart = try #require(warnings.first { $0.service == "db" && $0.attribute == "restart" })
        #expect(dbRestart.advice.contains("already set"))
        let volumesFrom = try #require(warnings.first { $0.attribute == "volumes_from" })
        #expect(volumesFrom.effect.contains("rejected"))
    }

    @Test func olderEnginesAlsoIgnoreCapabilities() throws {
        let p = try TempProject(["stack.yaml": Self.stack, "web/Dockerfile": "FROM scratch\n"])
        defer { p.remove() }
        let project = try p.load(files: ["stack.yaml"])
        #expect(!ProjectLoader.swarmWarnings(project, apiVersion: "1.41").contains { $0.attribute == "cap_add" })
        let old = ProjectLoader.swarmWarnings(project, apiVersion: "1.40")
        let capAdd = try #require(old.first { $0.attribute == "cap_add" })
        #expect(capAdd.description.contains("older than API 1.41"))
        #expect(capAdd.mark?.line == 16)
    }

    @Test func swarmTargetLogsOneWarningEach() throws {
        let p = try TempProject(["stack.yaml": Self.stack, "web/Dockerfile": "FROM scratch\n"])
        defer { p.remove() }
        let log = CapturedLog()
        let options = ProjectOptions(files: ["stack.yaml"], environment: [:], workingDirectory: p.dir, target: .swarm)
        _ = try ProjectLoader.load(options, logger: log.logger())
        let swarm = log.warnings.filter { $0.contains("swarm") || $0.contains("docker stack deploy") }
        #expect(swarm.count == 7)
        #expect(swarm.contains { $0.hasPrefix("stack.yaml:6:5: services.web.restart is ignored by swarm") })

        let quiet = CapturedLog()
        let compose = ProjectOptions(files: ["stack.yaml"], environment: [:], workingDirectory: p.dir)
        _ = try ProjectLoader.load(compose, logger: quiet.logger())
        #expect(quiet.warnings.isEmpty)
    }

    @Test func cleanStackHasNoWarnings() throws {
        let p = try TempProject(["stack.yaml": """
            services:
              api:
                image: registry.local/api:2
                deploy:
                  replicas: 3
                  restart_policy: {condition: any}
                volumes:
                  - type: tmpfs
                    target: /cache
            """])
        defer { p.remove() }
        #expect(ProjectLoader.swarmWarnings(try p.load(files: ["stack.yaml"])).isEmpty)
    }

    @Test func apiVersionsCompareNumerically() {
        #expect(ProjectLoader.apiAtLeast("1.41", "1.41"))
        #expect(ProjectLoader.apiAtLeast("1.41", "1.9"))
        #expect(!ProjectLoader.apiAtLeast("1.40", "1.41"))
        #expect(ProjectLoader.apiAtLeast("2", "1.41"))
    }
}
