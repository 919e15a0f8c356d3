import Foundation
import Logging
import Testing
@testable import GitSource

/// A file tree as a comparable value: path → kind and content.
enum TreeEntry: Equatable, CustomStringConvertible {
    case file(Data, executable: Bool)
    case symlink(String)
    case directory

    var description: String {
        switch self {
        case .file(let data, let x): return "file(\(data.count) bytes\(x ? ", x" : ""))"
        case .symlink(let target): return "symlink(\(target))"
        case .directory: return "dir"
        }
    }
}

func readTree(_ root: URL) throws -> [String: TreeEntry] {
    var result: [String: TreeEntry] = [:]
    func walk(_ relative: String) throws {
        let path = relative.isEmpty ? root.path : root.path + "/" + relative
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            let rel = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(root.path + "/" + rel, &info) == 0 else { throw ShellError(message: "lstat \(rel)") }
            switch info.st_mode & S_IFMT {
            case S_IFLNK: result[rel] = .symlink(try FileManager.default.destinationOfSymbolicLink(atPath: root.path + "/" + rel))
            case S_IFDIR: result[rel] = .directory; try walk(rel)
            default:
                let data = try Data(contentsOf: root.appendingPathComponent(rel))
                result[rel] = .file(data, executable: info.st_mode & 0o100 != 0)
            }
        }
    }
    try walk("")
    return result
}

func mode(_ path: String) -> mode_t {
    var info = stat()
    lstat(path, &info)
    return info.st_mode & 0o7777
}

@Suite struct GitStoreTests {
    @Test func fetchFromPlainPathAndFileURL() async throws {
        let source = try SourceRepo()
        let state = try TempDir()
        let store = try makeStore(state)

        let first = try await store.fetch(GitRemote(url: source.url.path))
        #expect(first.cloned)
        #expect(first.defaultBranch == "refs/heads/main")
        #expect(first.changedRefs.contains("refs/heads/main"))
        #expect(first.changedRefs.contains("refs/tags/v1.0"))
        #expect(FileManager.default.fileExists(atPath: first.mirror.appendingPathComponent("HEAD").path))
        #expect(first.mirror.path.hasPrefix(state.path + "/git/"))
        #expect(first.mirror.lastPathComponent.hasSuffix(".git"))

        let again = try await store.fetch(GitRemote(url: source.url.path))
        #expect(!again.cloned)
        #expect(again.changedRefs.isEmpty)
        #expect(again.mirror == first.mirror)

        let viaFileURL = try await store.fetch(GitRemote(url: "file://" + source.url.path))
        #expect(viaFileURL.cloned)
        #expect(viaFileURL.mirror != first.mirror)
        let main = try await store.resolve("main", in: "file://" + source.url.path)
        #expect(main.commit == (try source.revParse("main")))
        // Only the two mirrors: a clone works in a temporary directory that is renamed.
        let entries = try FileManager.default.contentsOfDirectory(atPath: state.path + "/git").filter { $0.hasSuffix(".git") }
        #expect(entries.count == 2)
    }

    @Test func resolvesBranchesTagsAndCommitIDs() async throws {
        let source = try SourceRepo()
        let state = try TempDir()
        let store = try makeStore(state)
        let url = source.url.path
        _ = try await store.fetch(GitRemote(url: url))

        let main = try source.revParse("main")
        let feature = try source.revParse("feature")
        #expect(try await store.resolve("main", in: url) == ResolvedRef(commit: main, reference: "refs/heads/main"))
        #expect(try await store.resolve("feature", in: url).commit == feature)
        #expect(try await store.resolve("refs/heads/feature", in: url).commit == feature)
        #expect(try await store.resolve("HEAD", in: url).commit == main)
        // The annotated tag is its own object; resolving peels it to the commit.
        let tagObject = try source.revParse("v1.0")
        #expect(tagObject != main)
        #expect(try await store.resolve("v1.0", in: url) == ResolvedRef(commit: main, reference: "refs/tags/v1.0"))
        #expect(try await store.resolve("refs/tags/v1.0", in: url).commit == main)
        #expect(try await store.resolve("light", in: url).commit == main)
        #expect(try await store.resolve(feature, in: url) == ResolvedRef(commit: feature, reference: nil))
        #expect(try await store.resolve(String(feature.prefix(8)), in: url).commit == feature)
        #expect(try await store.resolve(feature.uppercased(), in: url).commit == feature)
        #expect(try await store.resolve(tagObject, in: url).commit == main)
    }

    @Test func badRefListsCloseBranchNames() async throws {
        let source = try SourceRepo()
        let state = try TempDir()
        let store = try makeStore(state)
        let url = source.url.path
        _ = try await store.fetch(GitRemote(url: url))

        let error = await #expect(throws: GitSourceError.self) { try await store.resolve("featrue", in: url) }
        #expect(error?.kind == .badRef)
        #expect(error?.description.contains("no branch, tag or commit named \"featrue\"") == true)
        #expect(error?.description.contains("Did you mean feature") == true)

        let far = await #expect(throws: GitSourceError.self) { try await store.resolve("zzzzzzzzzzzzzz", in: url) }
        #expect(far?.description.contains("Branches: feature, main") == true)

        let missingCommit = await #expect(throws: GitSourceError.self) {
            try await store.resolve("0123456789abcdef0123456789abcdef01234567", in: url)
        }
        #expect(missingCommit?.kind == .badRef)

        let noMirror = await #expect(throws: GitSourceError.self) { try await store.resolve("main", in: "/nonexistent/repo") }
        #expect(noMirror?.description.contains("Fetch the repository first") == true)
    }

    @Test func snapshotMatchesGitArchive() async throws {
        let source = try SourceRepo()
        // A submodule entry (gitlink) without a real submodule: the snapshot notes and skips it.
        try sh(["git", "update-index", "--add", "--cacheinfo", "160000,\(try source.revParse("feature")),vendor/sub"], in: source.url)
        try sh(["git", "commit", "-q", "-m", "submodule"], in: source.url)
        let state = try TempDir()
        let store = try makeStore(state)
        let url = source.url.path
        _ = try await store.fetch(GitRemote(url: url))
        let commit = try await store.resolve("main", in: url).commit

        let snapshot = try await store.snapshot(commit: commit, from: url)
        #expect(!snapshot.reused)
        #expect(snapshot.directory.path == state.path + "/snapshots/" + commit)
        #expect(snapshot.submodules == ["vendor/sub"])

        let archive = try TempDir("berth-archive")
        try sh(["sh", "-c", "git archive --format=tar \(commit) | tar -x -C '\(archive.path)'"], in: source.url)
        let expected = try readTree(archive.url)
        let actual = try readTree(snapshot.directory)
        #expect(actual == expected)
        #expect(actual["bin/run.sh"] == .file(Data("#!/bin/sh\necho run\n".utf8), executable: true))
        #expect(actual["README.md"] == .file(Data("hello berth\n".utf8), executable: false))
        #expect(actual["link"] == .symlink("README.md"))
        #expect(actual["bin/up"] == .symlink("../README.md"))
        #expect(actual["vendor/sub"] == .directory)

        // Read-only: no write bits anywhere.
        #expect(mode(snapshot.directory.path) & 0o222 == 0)
        #expect(mode(snapshot.directory.path + "/apps/web") & 0o222 == 0)
        #expect(mode(snapshot.directory.path + "/README.md") == 0o444)
        #expect(mode(snapshot.directory.path + "/bin/run.sh") == 0o555)

        let reused = try await store.snapshot(commit: commit, from: url)
        #expect(reused.reused)
        #expect(reused.submodules == ["vendor/sub"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state.path + "/snapshots").filter { $0.hasPrefix(".tmp") }
        #expect(leftovers.isEmpty)

        let notFull = await #expect(throws: GitSourceError.self) { try await store.snapshot(commit: "main", from: url) }
        #expect(notFull?.kind == .badRef)
    }

    @Test func newCommitMakesNewSnapshotAndGCKeepsWhatItIsTold() async throws {
        let source = try SourceRepo()
        let state = try TempDir()
        let store = try makeStore(state)
        let url = "file://" + source.url.path
        _ = try await store.fetch(GitRemote(url: url))
        let old = try await store.resolve("main", in: url).commit
        let oldSnapshot = try await store.snapshot(commit: old, from: url)

        let new = try source.commit("README.md", "hello again\n")
        let fetched = try await store.fetch(GitRemote(url: url))
        #expect(fetched.changedRefs == ["refs/heads/main"])
        #expect(try await store.resolve("main", in: url).commit == new)
        let newSnapshot = try await store.snapshot(commit: new, from: url)
        #expect(!newSnapshot.reused)
        #expect(try String(contentsOf: newSnapshot.directory.appendingPathComponent("README.md"), encoding: .utf8) == "hello again\n")
        #expect(try String(contentsOf: oldSnapshot.directory.appendingPathComponent("README.md"), encoding: .utf8) == "hello berth\n")

        // A deleted branch is pruned from the mirror.
        try sh(["git", "branch", "-q", "-D", "feature"], in: source.url)
        let pruned = try await store.fetch(GitRemote(url: url))
        #expect(pruned.changedRefs == ["refs/heads/feature"])
        await #expect(throws: GitSourceError.self) { try await store.resolve("feature", in: url) }

        let feature = try await store.resolve("light", in: url).commit
        #expect(feature == old)
        // Three snapshots, the newest used last; keep one by name and the newest one.
        let third = try source.commit("other.txt", "x\n")
        _ = try await store.fetch(GitRemote(url: url))
        try await Task.sleep(for: .milliseconds(20))
        let thirdSnapshot = try await store.snapshot(commit: third, from: url)
        let removed = try await store.removeSnapshots(keeping: [old], newest: 1)
        #expect(removed == [new])
        #expect(FileManager.default.fileExists(atPath: oldSnapshot.directory.path))
        #expect(FileManager.default.fileExists(atPath: thirdSnapshot.directory.path))
        #expect(!FileManager.default.fileExists(atPath: newSnapshot.directory.path))
        #expect(try await store.removeSnapshots(keeping: [], newest: 0).sorted() == [old, third].sorted())
    }

    @Test func fetchOverGitDaemon() async throws {
        let source = try SourceRepo()
        let daemon = try GitDaemon()
        let (url, bare) = try daemon.publish(source)
        defer { GitStore.removeTree(bare.path) }
        let state = try TempDir()
        let store = try makeStore(state)

        let result = try await store.fetch(GitRemote(url: url))
        #expect(result.cloned)
        #expect(result.defaultBranch == "refs/heads/main")
        let main = try await store.resolve("main", in: url)
        #expect(main.commit == (try source.revParse("main")))
        #expect(try await store.resolve("v1.0", in: url).commit == main.commit)
        let snapshot = try await store.snapshot(commit: main.commit, from: url)
        #expect(try readTree(snapshot.directory)["bin/run.sh"] == .file(Data("#!/bin/sh\necho run\n".utf8), executable: true))

        // Push a new commit to the served repo; the next fetch sees it.
        let new = try source.commit("x.txt", "x\n")
        try sh(["git", "push", "-q", bare.path, "main"], in: source.url)
        let again = try await store.fetch(GitRemote(url: url))
        #expect(!again.cloned)
        #expect(again.changedRefs == ["refs/heads/main"])
        #expect(try await store.resolve("main", in: url).commit == new)
    }

    @Test func unreachableRemotesGiveClearErrors() async throws {
        let state = try TempDir()
        let store = try makeStore(state)
        let port = try freePort()
        let url = "git://127.0.0.1:\(port)/nothing.git"
        let refused = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: url)) }
        #expect(refused?.kind == .fetch)
        #expect(refused?.description.contains("cannot fetch \(url)") == true)
        #expect(refused?.description.contains("reachable") == true)

        let missing = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: "/nonexistent/berth-repo")) }
        #expect(missing?.description.contains("/nonexistent/berth-repo") == true)
        #expect(missing?.description.contains("path exists") == true)
        #expect(missing?.description.contains("there is no directory /nonexistent/berth-repo") == true)
        let missingURL = await #expect(throws: GitSourceError.self) { try await store.fetch(GitRemote(url: "file:///nonexistent/berth-repo")) }
        #expect(missingURL?.description.contains("there is no directory /nonexistent/berth-repo") == true)

        // Credentials in the URL never show up in errors.
        let secret = await #expect(throws: GitSourceError.self) {
            try await store.fetch(GitRemote(url: "http://user:hunter2@127.0.0.1:\(port)/repo.git"))
        }
        #expect(secret?.description.contains("hunter2") == false)
        #expect(secret?.description.contains("user:***@127.0.0.1") == true)

        // Failed first clones leave no mirror behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state.path + "/git").filter { $0.hasSuffix(".git") }
        #expect(leftovers.isEmpty)
    }

    @Test func craftedTreesAreRefused() async throws {
        let source = try SourceRepo()
        let blob = try sh(["git", "hash-object", "-w", "--stdin"], in: source.url, input: Data("x\n".utf8))
        for (index, name) in ["..", ".git"].enumerated() {
            let tree = try sh(["git", "mktree"], in: source.url, input: Data("100644 blob \(blob)\t\(name)\n".utf8))
            let commit = try sh(["git", "commit-tree", tree, "-m", "evil"], in: source.url)
            try sh(["git", "update-ref", "refs/heads/evil\(index)", commit], in: source.url)
        }
        let state = try TempDir()
        let store = try makeStore(state)
        _ = try await store.fetch(GitRemote(url: source.url.path))
        for (index, name) in ["..", ".git"].enumerated() {
            let commit = try await store.resolve("evil\(index)", in: source.url.path).commit
            let error = await #expect(throws: GitSourceError.self) { try await store.snapshot(commit: commit, from: source.url.path) }
            #expect(error?.description.contains("unsafe path \"\(name)\"") == true)
            #expect(!FileManager.default.fileExists(atPath: store.snapshotDirectory(for: commit).path))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state.path + "/snapshots")
        #expect(leftovers.isEmpty)
    }

    @Test func concurrentStoresShareAStateDirectory() async throws {
        let source = try SourceRepo()
        let state = try TempDir()
        // Two stores stand in for two processes: the file lock and atomic renames keep them apart.
        let stores = [try makeStore(state), try makeStore(state)]
        let url = source.url.path
        let commit = try source.revParse("main")
        let snapshots = try await withThrowingTaskGroup(of: Snapshot.self) { group in
            for i in 0..<6 {
                group.addTask {
                    let store = stores[i % 2]
                    _ = try await store.fetch(GitRemote(url: url))
                    return try await store.snapshot(commit: commit, from: url)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(snapshots.count == 6)
        #expect(Set(snapshots.map(\.directory)).count == 1)
        #expect(snapshots.filter { !$0.reused }.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: state.path + "/git").filter { $0.hasSuffix(".git") }.count == 1)
    }

    @Test func unreadableCAFileIsAnError() throws {
        let state = try TempDir()
        let error = #expect(throws: GitSourceError.self) {
            _ = try GitStore(stateDirectory: state.url, caFile: "/nonexistent/ca.pem", logger: .init(label: "t"))
        }
        #expect(error?.kind == .certificate)
        #expect(error?.description.contains("/nonexistent/ca.pem") == true)
    }

    @Test func urlRedactionAndSSHHostParsing() {
        #expect(GitURL.redacted("https://u:p@host/x.git") == "https://u:***@host/x.git")
        #expect(GitURL.redacted("https://token@host/x.git") == "https://token@host/x.git")
        #expect(GitURL.redacted("https://host/x.git") == "https://host/x.git")
        #expect(GitURL.sshHostPort("ssh://git@example.com:2222/r.git")! == ("example.com", 2222))
        #expect(GitURL.sshHostPort("git@example.com:r.git")! == ("example.com", 22))
        #expect(GitURL.sshHostPort("/srv/repo") == nil)
        #expect(GitURL.isLocal("/srv/repo") && GitURL.isLocal("file:///srv/repo") && GitURL.isLocal("repo"))
        #expect(!GitURL.isLocal("git@example.com:r.git") && !GitURL.isLocal("https://h/r"))
        let credentials = GitCredentials(http: .basic(username: "me", password: "pw"), ssh: .init(privateKeyPath: "/k", passphrase: "pp"))
        #expect(!credentials.description.contains("pw") && !credentials.description.contains("pp"))
    }

    @Test func knownHostsMatching() throws {
        let dir = try TempDir()
        let keyFile = dir.url.appendingPathComponent("host_key").path
        try sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile])
        let publicLine = try String(contentsOfFile: keyFile + ".pub", encoding: .utf8).split(separator: " ")
        let type = String(publicLine[0]), base64 = String(publicLine[1])
        let key = [UInt8](try #require(Data(base64Encoded: base64)))

        #expect(KnownHosts.check(host: "git.example", port: 22, keyType: type, key: key,
                                 knownHosts: "other.example \(type) \(base64)\ngit.example \(type) \(base64)\n") == .trusted)
        #expect(KnownHosts.check(host: "git.example", port: 2222, keyType: type, key: key,
                                 knownHosts: "git.example \(type) \(base64)\n") == .unknown)
        #expect(KnownHosts.check(host: "git.example", port: 2222, keyType: type, key: key,
                                 knownHosts: "[git.example]:2222 \(type) \(base64)\n") == .trusted)
        #expect(KnownHosts.check(host: "git.example", port: 22, keyType: type, key: key,
                                 knownHosts: "*.example,!bad.example \(type) \(base64)\n") == .trusted)
        #expect(KnownHosts.check(host: "bad.example", port: 22, keyType: type, key: key,
                                 knownHosts: "*.example,!bad.example \(type) \(base64)\n") == .unknown)
        var other = key
        other[other.count - 1] ^= 0xff
        #expect(KnownHosts.check(host: "git.example", port: 22, keyType: type, key: other,
                                 knownHosts: "git.example \(type) \(base64)\n") == .changed)
        #expect(KnownHosts.check(host: "git.example", port: 22, keyType: type, key: key,
                                 knownHosts: "@revoked * \(type) \(base64)\ngit.example \(type) \(base64)\n") == .revoked)

        // Hashed entries as ssh-keygen -H writes them.
        let knownHosts = dir.url.appendingPathComponent("known_hosts").path
        try "git.example \(type) \(base64)\n[git.example]:2222 \(type) \(base64)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try sh(["ssh-keygen", "-q", "-H", "-f", knownHosts])
        let hashed = try String(contentsOfFile: knownHosts, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"))
        #expect(KnownHosts.check(host: "git.example", port: 22, keyType: type, key: key, knownHosts: hashed) == .trusted)
        #expect(KnownHosts.check(host: "git.example", port: 2222, keyType: type, key: key, knownHosts: hashed) == .trusted)
        #expect(KnownHosts.check(host: "elsewhere.example", port: 22, keyType: type, key: key, knownHosts: hashed) == .unknown)
    }

    @Test func librarySupportsSSH() {
        #expect(GitLibrary.supportsHTTPSAndSSH.ssh)
        #expect(GitLibrary.version.hasPrefix("1."))
    }
}
