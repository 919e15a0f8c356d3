import Foundation
import Logging
import Testing
import BerthYAML
@testable import Compose

/// A throw-away project folder.
struct TempProject {
    let dir: String

    init(_ files: [String: String]) throws {
        dir = NSTemporaryDirectory() + "berth-compose-" + UUID().uuidString.lowercased().prefix(8)
        for (name, text) in files {
            let path = dir + "/" + name
            try FileManager.default.createDirectory(atPath: Paths.directory(of: path), withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    func load(files: [String] = [], profiles: [String] = [], env: [String: String] = [:], name: String? = nil,
              envFiles: [String] = [], services: [String] = [], defaultName: String? = nil) throws(ComposeError) -> Project {
        let options = ProjectOptions(files: files, projectName: name, profiles: profiles, envFiles: envFiles,
                                     environment: env, workingDirectory: dir, services: services, defaultName: defaultName)
        return try ProjectLoader.load(options, logger: Logger(label: "test"))
    }

    func error(files: [String] = [], env: [String: String] = [:]) -> String {
        do {
            _ = try load(files: files, env: env)
            return "no error"
        } catch {
            return error.description
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

@Suite struct LoaderTests {
    @Test func defaultFilesOverrideAndDotEnv() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  web:
                    image: "nginx:${TAG}"
                    ports: ["8080:80"]
                    environment: [A=1]
                """,
            "compose.override.yaml": """
                services:
                  web:
                    environment:
                      B: 2
                """,
            ".env": "TAG=1.25\n",
        ])
        defer { p.remove() }
        let project = try p.load(env: [:])
        let web = try #require(project.service(named: "web"))
        #expect(web.image == "nginx:1.25")
        #expect(web.environment["A"] == .some("1"))
        #expect(web.environment["B"] == .some("2"))
        #expect(web.ports == [PortConfig(target: 80, published: "8080")])
        #expect(web.networks.keys.sorted() == ["default"])
        #expect(project.networks["default"]?.name == "\(project.name)_default")
        // The process environment wins over .env.
        #expect(try p.load(env: ["TAG": "2"]).service(named: "web")?.image == "nginx:2")
    }

    @Test func projectNamePrecedence() throws {
        let p = try TempProject(["compose.yaml": "name: fromfile\nservices:\n  a:\n    image: x\n"])
        defer { p.remove() }
        #expect(try p.load().name == "fromfile")
        #expect(try p.load(env: ["COMPOSE_PROJECT_NAME": "fromenv"]).name == "fromenv")
        #expect(try p.load(env: ["COMPOSE_PROJECT_NAME": "fromenv"], name: "flag").name == "flag")
        #expect(throws: ComposeError.self) { _ = try p.load(name: "Bad Name") }
        #expect(ProjectLoader.normalizeProjectName("_My.App-1") == "myapp-1")
    }

    /// A GitOps app's name stands in for the folder's, and only there: `name:`, the environment
    /// and -p still win.
    @Test func defaultNameTakesTheFoldersPlace() throws {
        let unnamed = try TempProject(["compose.yaml": "services:\n  a:\n    image: x\n"])
        defer { unnamed.remove() }
        let app = try unnamed.load(defaultName: "shop")
        #expect(app.name == "shop")
        #expect(app.networks["default"]?.name == "shop_default")
        #expect(try unnamed.load().name != "shop")
        #expect(try unnamed.load(env: ["COMPOSE_PROJECT_NAME": "fromenv"], defaultName: "shop").name == "fromenv")
        #expect(try unnamed.load(name: "flag", defaultName: "shop").name == "flag")
        #expect(throws: ComposeError.self) { _ = try unnamed.load(defaultName: "Not Valid") }

        let named = try TempProject(["compose.yaml": "name: fromfile\nservices:\n  a:\n    image: x\n"])
        defer { named.remove() }
        #expect(try named.load(defaultName: "shop").name == "fromfile")
    }

    @Test func folderNameIsSanitized() throws {
        let p = try TempProject(["My.App/compose.yaml": "services:\n  a:\n    image: x\n"])
        defer { p.remove() }
        let project = try p.load(files: ["My.App/compose.yaml"])
        #expect(project.name == "myapp")
        #expect(project.workingDirectory == p.dir + "/My.App")
    }

    @Test func resetAndOverrideAcrossFiles() throws {
        let p = try TempProject([
            "a.yaml": """
                services:
                  web:
                    image: x
                    ports: ["80:80"]
                    dns: [1.1.1.1]
                    environment: {A: "1", B: "2"}
                """,
            "b.yaml": """
                services:
                  web:
                    ports: !reset []
                    dns: !override [8.8.8.8]
                    environment:
                      B: !reset
                """,
        ])
        defer { p.remove() }
        let web = try #require(try p.load(files: ["a.yaml", "b.yaml"]).service(named: "web"))
        #expect(web.ports.isEmpty)
        #expect(web.dns == ["8.8.8.8"])
        #expect(web.environment == ["A": "1"])
    }

    @Test func extendsSameAndOtherFileChained() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  base:
                    image: busybox
                    environment: [LEVEL=base]
                  mid:
                    extends: base
                    environment: [MID=1]
                  web:
                    extends:
                      service: mid
                    command: echo hi
                  remote:
                    extends:
                      file: common/common.yaml
                      service: worker
                """,
            "common/common.yaml": """
                services:
                  worker:
                    build: ./src
                    volumes: ["./data:/data"]
                """,
        ])
        defer { p.remove() }
        let project = try p.load()
        let web = try #require(project.service(named: "web"))
        #expect(web.image == "busybox")
        #expect(web.environment == ["LEVEL": "base", "MID": "1"])
        #expect(web.command == ["echo", "hi"])
        let remote = try #require(project.service(named: "remote"))
        #expect(remote.build?.context == p.dir + "/common/src")
        #expect(remote.volumes.first?.source == p.dir + "/common/data")
    }

    @Test func extendsCycleIsAnError() throws {
        let p = try TempProject(["compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"])
        defer { p.remove() }
        let message = p.error()
        #expect(message.contains("circular reference with extends"))
        #expect(message.hasPrefix("compose.yaml:"))
    }

    @Test func includeBringsServicesWithTheirPaths() throws {
        let p = try TempProject([
            "compose.yaml": """
                include:
                  - sub/compose.yaml
                services:
                  web:
                    image: x
                    depends_on: [db]
                """,
            "sub/compose.yaml": """
                services:
                  db:
                    build: .
                """,
        ])
        defer { p.remove() }
        let project = try p.load()
        #expect(project.services.map(\.name) == ["db", "web"])
        #expect(project.service(named: "db")?.build?.context == p.dir + "/sub")
    }

    @Test func profilesAndDependencies() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  web:
                    image: x
                  debug:
                    image: x
                    profiles: [debug]
                  tools:
                    image: x
                    profiles: [tools]
                    depends_on: [helper]
                  helper:
                    image: x
                    profiles: [other]
                """,
        ])
        defer { p.remove() }
        #expect(try p.load().services.map(\.name) == ["web"])
        #expect(try p.load(profiles: ["debug"]).services.map(\.name) == ["debug", "web"])
        #expect(try p.load(profiles: ["tools"]).services.map(\.name) == ["helper", "tools", "web"])
        #expect(try p.load(env: ["COMPOSE_PROFILES": "debug,tools"]).services.count == 4)
        #expect(try p.load(profiles: ["*"]).services.count == 4)
    }

    @Test func errorsNameFileLineColumnAndPath() throws {
        let cases: [(String, String)] = [
            ("services:\n  web:\n    image: x\n    ports:\n      - \"80:80:80\"\n",
             "compose.yaml:5:9: services.web.ports[0]: \"80:80:80\" is not a valid port mapping"),
            ("services:\n  web:\n    image: x\n    imagee: y\n",
             "compose.yaml:4:5: services.web: additional property \"imagee\" is not allowed"),
            ("services:\n  web:\n    image: \"x:${TAG:?tag please}\"\n",
             "compose.yaml:3:15: services.web.image: required variable TAG is missing a value: tag please"),
            ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
             "dependency cycle detected"),
            ("services:\n  a:\n    image: x\n    depends_on: [nope]\n",
             "compose.yaml:4:18: services.a.depends_on: service \"a\" depends on undefined service \"nope\""),
            ("services:\n  a:\n    image: x\n    healthcheck:\n      interval: soon\n",
             "compose.yaml:5:17: services.a.healthcheck.interval: \"soon\" is not a valid duration"),
            ("services:\n  a:\n    image: x\n    volumes: [\"data:/data\"]\n",
             "refers to undefined volume \"data\""),
            ("services:\n  a:\n    image: x\n    ports:\n      - target: 80\n        foo: 1\n",
             "compose.yaml:6:9: services.a.ports[0]: additional property \"foo\" is not allowed"),
            ("services:\n  a:\n    image: x\n    restart: sometimes\n",
             "compose.yaml:4:14: services.a.restart: \"sometimes\" is not a restart policy"),
            ("x-ok: 1\nservices:\n  a:\n    image: x\n    x-also: fine\n    mem_limit: lots\n",
             "compose.yaml:6:16: services.a.mem_limit: \"lots\" is not a valid byte size"),
        ]
        for (text, expected) in cases {
            let p = try TempProject(["compose.yaml": text])
            defer { p.remove() }
            let message = p.error()
            #expect(message.contains(expected), "\(message)")
        }
    }

    @Test func outputRoundTrips() throws {
        let p = try TempProject([
            "compose.yaml": """
                services:
                  web:
                    image: x
                    labels: [a=1]
                    environment:
                      N: 1
                      S: "true"
                    ports: ["127.0.0.1:8000-8001:80-81/udp"]
                """,
        ])
        defer { p.remove() }
        let project = try p.load(name: "demo")
        let text = try project.yaml()
        let doc = try #require(try YAML.parse(text))
        #expect(doc["name"]?.string == "demo")
        #expect(doc["services"]?["web"]?["environment"]?["N"]?.value == .string("1"))
        #expect(doc["services"]?["web"]?["environment"]?["S"]?.value == .string("true"))
        #expect(doc["services"]?["web"]?["ports"]?.sequence?.count == 2)
        let json = project.json()
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(decoded["name"] as? String == "demo")
    }
}

@Suite struct SyntaxTests {
    @Test func shortPorts() throws {
        #expect(try PortConfig.parseShort("80") == [PortConfig(target: 80)])
        #expect(try PortConfig.parseShort("8080:80/udp") == [PortConfig(target: 80, published: "8080", protocol: "udp")])
        #expect(try PortConfig.parseShort("127.0.0.1:8000-8001:80-81") == [
            PortConfig(hostIP: "127.0.0.1", target: 80, published: "8000"),
            PortConfig(hostIP: "127.0.0.1", target: 81, published: "8001"),
        ])
        #expect(try PortConfig.parseShort("[::1]:53:53/udp") == [PortConfig(hostIP: "::1", target: 53, published: "53", protocol: "udp")])
        #expect(try PortConfig.parseShort("::1:53:53") == [PortConfig(hostIP: "::1", target: 53, published: "53")])
        #expect(try PortConfig.parseShort("9000-9010:80") == [PortConfig(target: 80, published: "9000-9010")])
        #expect(try PortConfig.parseShort("3000-3001") == [PortConfig(target: 3000), PortConfig(target: 3001)])
        for bad in ["80:80:80", "x", "80/foo", "1-2:3-5", "70000", ""] {
            #expect(throws: ComposeError.self) { _ = try PortConfig.parseShort(bad) }
        }
    }

    @Test func shortVolumes() throws {
        let bind = try VolumeSpec.parseShort("./data:/data:ro,z")
        #expect(bind.type == "bind" && bind.source == "./data" && bind.target == "/data" && bind.readOnly && bind.selinux == "z")
        let named = try VolumeSpec.parseShort("db:/var/lib/db:nocopy")
        #expect(named.type == "volume" && named.source == "db" && named.nocopy)
        let anonymous = try VolumeSpec.parseShort("/cache")
        #expect(anonymous.type == "volume" && anonymous.source == nil && anonymous.target == "/cache")
        #expect(try VolumeSpec.parseShort("/a:/b:rshared").propagation == "rshared")
        #expect(throws: ComposeError.self) { _ = try VolumeSpec.parseShort("a:/b:bogus") }
    }

    @Test func durationsAndBytes() {
        #expect(Units.parseDuration("1m30s") == .seconds(90))
        #expect(Units.parseDuration("1.5h") == .seconds(5400))
        #expect(Units.parseDuration("300ms") == .milliseconds(300))
        #expect(Units.parseDuration("10") == nil)
        #expect(Units.formatDuration(.seconds(90)) == "1m30s")
        #expect(Units.formatDuration(.milliseconds(1500)) == "1.5s")
        #expect(Units.parseBytes("512m") == Int64(512 * 1024 * 1024))
        #expect(Units.parseBytes("1GB") == Int64(1024 * 1024 * 1024))
        #expect(Units.parseBytes("64kib") == Int64(64 * 1024))
        #expect(Units.parseBytes("100") == 100)
        #expect(Units.parseBytes("lots") == nil)
    }

    @Test func shellWords() throws {
        #expect(try ShellWords.split(#"nginx -g "daemon off;""#) == ["nginx", "-g", "daemon off;"])
        #expect(try ShellWords.split(#"sh -c 'echo $HOME' a\ b"#) == ["sh", "-c", "echo $HOME", "a b"])
        #expect(throws: ComposeError.self) { _ = try ShellWords.split("echo 'open") }
    }
}
