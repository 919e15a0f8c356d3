import Foundation
import Testing
@testable import GitSource
import BerthYAML

/// Makes a directory tree from path → content (a path ending in `/` is an empty folder).
func makeTree(_ files: [String: String]) throws -> TempDir {
    let dir = try TempDir("berth-repo")
    for (path, content) in files {
        let url = dir.url.appendingPathComponent(path)
        if path.hasSuffix("/") {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } else {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
    }
    return dir
}

func loadError(_ files: [String: String]) throws -> GitSourceError? {
    let dir = try makeTree(files)
    return #expect(throws: GitSourceError.self) { try RepoConfig.load(snapshotDirectory: dir.url) }
}

let compose = "services:\n  app:\n    image: berth.local/busybox:latest\n"

@Suite struct RepoConfigTests {
    @Test func fullBerthYAMLInDependencyOrder() throws {
        let dir = try makeTree([
            "berth.yaml": """
            registry: 127.0.0.1:5000/acme
            apps:
              web:
                path: apps/web
                files: [compose.yaml, extra.yaml]
                profiles: [debug]
                target: compose
                prune: false
                dependsOn: [db, cache]
              edge:
                path: ./stacks/edge/
                target: swarm
              db:
                path: apps/db
              cache:
                path: apps/cache
                dependsOn: db
            """,
            "apps/web/compose.yaml": compose, "apps/web/extra.yaml": compose,
            "apps/db/docker-compose.yml": compose, "apps/db/docker-compose.override.yml": compose,
            "apps/cache/compose.yaml": compose,
            "stacks/edge/stack.yml": compose,
        ])
        let config = try RepoConfig.load(snapshotDirectory: dir.url)
        #expect(config.registry == "127.0.0.1:5000/acme")
        #expect(!config.discovered)
        #expect(config.apps.map(\.name) == ["edge", "db", "cache", "web"])
        let web = try #require(config.app(named: "web"))
        #expect(web == AppConfig(name: "web", path: "apps/web", files: ["compose.yaml", "extra.yaml"], profiles: ["debug"],
                                 target: .compose, prune: false, dependsOn: ["db", "cache"], mark: web.mark))
        #expect(web.mark.description == "berth.yaml:3:3")
        #expect(config.app(named: "edge")?.path == "stacks/edge")
        #expect(config.app(named: "edge")?.files == ["stack.yml"])
        #expect(config.app(named: "edge")?.target == .swarm)
        #expect(config.app(named: "db")?.files == ["docker-compose.yml", "docker-compose.override.yml"])
        #expect(config.app(named: "db")?.prune == true)
        #expect(config.app(named: "cache")?.dependsOn == ["db"])
    }

    @Test func berthYAMLWithoutAppsDiscovers() throws {
        let dir = try makeTree(["berth.yaml": "registry: reg.example/x\n", "web/compose.yaml": compose])
        let config = try RepoConfig.load(snapshotDirectory: dir.url)
        #expect(config.registry == "reg.example/x")
        #expect(config.discovered)
        #expect(config.apps.map(\.name) == ["web"])
    }

    @Test func unknownKeysAreErrorsWithPositions() throws {
        let top = try loadError(["berth.yaml": "registry: r\nrepos: {}\n"])
        #expect(top?.kind == .config)
        #expect(top?.description.hasPrefix("berth.yaml:2:1: unknown key \"repos\" in berth.yaml") == true)
        #expect(top?.description.contains("Known keys: registry, apps") == true)

        let app = try loadError(["berth.yaml": "apps:\n  web:\n    path: web\n    dependson: [db]\n", "web/compose.yaml": compose])
        #expect(app?.description.hasPrefix("berth.yaml:4:5: unknown key \"dependson\" in app web") == true)
        #expect(app?.description.contains("Did you mean dependsOn?") == true)
    }

    @Test func badValuesAreErrorsWithPositions() throws {
        let target = try loadError(["berth.yaml": "apps:\n  web:\n    target: kubernetes\n", "web/compose.yaml": compose])
        #expect(target?.description.hasPrefix("berth.yaml:3:13: target of app web must be compose or swarm, not kubernetes") == true)

        let prune = try loadError(["berth.yaml": "apps:\n  web:\n    prune: maybe\n", "web/compose.yaml": compose])
        #expect(prune?.description.hasPrefix("berth.yaml:3:12: prune of app web must be true or false") == true)

        let path = try loadError(["berth.yaml": "apps:\n  web:\n    path: apps/nope\n"])
        #expect(path?.description.hasPrefix("berth.yaml:3:11: path apps/nope of app web is not a folder") == true)

        let escape = try loadError(["berth.yaml": "apps:\n  web:\n    path: ../outside\n"])
        #expect(escape?.description.contains("leaves the repository") == true)

        let noCompose = try loadError(["berth.yaml": "apps:\n  web:\n    path: web\n", "web/readme": "x"])
        #expect(noCompose?.description.hasPrefix("berth.yaml:2:3: app web has no compose file in web") == true)

        let missingFile = try loadError(["berth.yaml": "apps:\n  web:\n    files: [compose.yaml, nope.yaml]\n", "web/compose.yaml": compose])
        #expect(missingFile?.description.hasPrefix("berth.yaml:3:27: file nope.yaml of app web does not exist") == true)

        let badName = try loadError(["berth.yaml": "apps:\n  Web:\n    path: web\n", "web/compose.yaml": compose])
        #expect(badName?.description.hasPrefix("berth.yaml:2:3: app name \"Web\" is not valid") == true)

        let syntax = try loadError(["berth.yaml": "apps:\n  web: [\n"])
        #expect(syntax?.description.hasPrefix("berth.yaml:") == true)
        #expect(syntax?.kind == .config)

        let notMapping = try loadError(["berth.yaml": "- a\n- b\n"])
        #expect(notMapping?.description.hasPrefix("berth.yaml:1:1: berth.yaml must be a mapping") == true)
    }

    @Test func dependencyErrors() throws {
        let unknown = try loadError(["berth.yaml": "apps:\n  web:\n    dependsOn: [db]\n", "web/compose.yaml": compose])
        #expect(unknown?.description.hasPrefix("berth.yaml:3:17: app web depends on \"db\", which is not an app") == true)

        let cycle = try loadError([
            "berth.yaml": "apps:\n  a:\n    dependsOn: [c]\n  b:\n    dependsOn: [a]\n  c:\n    dependsOn: [b]\n  d: {}\n",
            "a/compose.yaml": compose, "b/compose.yaml": compose, "c/compose.yaml": compose, "d/compose.yaml": compose,
        ])
        #expect(cycle?.description.hasPrefix("berth.yaml:2:3: apps depend on each other in a cycle: a → c → b → a") == true)

        let selfCycle = try loadError(["berth.yaml": "apps:\n  a:\n    dependsOn: a\n", "a/compose.yaml": compose])
        #expect(selfCycle?.description.contains("cycle: a → a") == true)
    }

    @Test func discoveryFindsComposeFolders() throws {
        let dir = try makeTree([
            "apps/web/compose.yaml": compose,
            "apps/web/compose.override.yaml": compose,
            "apps/web/nested/compose.yaml": compose,         // inside an app: not another app
            "apps/Api_Server/docker-compose.yml": compose,
            "stacks/edge/docker-compose.yaml": compose,
            "a/b/c/compose.yml": compose,                     // depth 3: found
            "a/b/c/d/compose.yml": compose,                   // depth 4: too deep
            "x/y/z/w/compose.yaml": compose,                  // too deep
            ".hidden/app/compose.yaml": compose,              // hidden: skipped
            "docs/readme.md": "x",
        ])
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/linked", withDestinationPath: "apps/web")
        let config = try RepoConfig.load(snapshotDirectory: dir.url)
        #expect(config.discovered)
        #expect(config.registry == nil)
        #expect(config.apps.map(\.name) == ["c", "api_server", "web", "edge"])
        #expect(config.apps.map(\.path) == ["a/b/c", "apps/Api_Server", "apps/web", "stacks/edge"])
        #expect(config.app(named: "web")?.files == ["compose.yaml", "compose.override.yaml"])
        #expect(config.app(named: "edge")?.files == ["docker-compose.yaml"])
        #expect(config.apps.allSatisfy { $0.target == .compose && $0.prune && $0.dependsOn.isEmpty })
    }

    @Test func discoveryAtTheRootAndDuplicates() throws {
        let root = try makeTree(["compose.yaml": "name: shop\n" + compose, "other/compose.yaml": compose])
        let config = try RepoConfig.load(snapshotDirectory: root.url)
        #expect(config.apps.map(\.name) == ["shop"])
        #expect(config.apps.first?.path == ".")

        let unnamed = try makeTree(["docker-compose.yml": compose])
        #expect(try RepoConfig.load(snapshotDirectory: unnamed.url).apps.map(\.name) == ["default"])

        let duplicate = try loadError(["a/web/compose.yaml": compose, "b/web/compose.yaml": compose])
        #expect(duplicate?.description.contains("two folders make an app named web: a/web and b/web") == true)
        #expect(duplicate?.description.contains("Add berth.yaml") == true)

        let empty = try makeTree(["docs/readme.md": "x"])
        #expect(try RepoConfig.load(snapshotDirectory: empty.url).apps.isEmpty)
    }

    @Test func loadsFromASnapshot() async throws {
        let source = try SourceRepo()
        try source.write("berth.yaml", "registry: 127.0.0.1:5000/acme\napps:\n  web:\n    path: apps/web\n")
        _ = try source.commit("berth.yaml", "registry: 127.0.0.1:5000/acme\napps:\n  web:\n    path: apps/web\n")
        let state = try TempDir()
        let store = try makeStore(state)
        _ = try await store.fetch(GitRemote(url: source.url.path))
        let commit = try await store.resolve("main", in: source.url.path).commit
        let snapshot = try await store.snapshot(commit: commit, from: source.url.path)
        let config = try RepoConfig.load(snapshotDirectory: snapshot.directory)
        #expect(config.apps.map(\.name) == ["web"])
        #expect(config.apps.first?.files == ["compose.yaml"])
    }
}
