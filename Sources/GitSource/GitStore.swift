import CGit2
import Crypto
import Dispatch
import FoundationEssentials
import Platform
import Glibc
import Logging

/// What a fetch did.
public struct FetchResult: Sendable, Equatable {
    /// The bare mirror on disk.
    public var mirror: URL
    /// True when this fetch created the mirror.
    public var cloned: Bool
    /// The remote's default branch (`refs/heads/main`), when it said so.
    public var defaultBranch: String?
    /// Refs that appeared, moved or disappeared, sorted.
    public var changedRefs: [String]
}

/// A ref resolved to a commit.
public struct ResolvedRef: Sendable, Equatable {
    /// Full 40-digit commit id.
    public var commit: String
    /// The full reference name it came from (`refs/heads/main`), nil for a commit id.
    public var reference: String?
}

/// An immutable, read-only checkout of one commit's tree.
public struct Snapshot: Sendable, Equatable {
    public var commit: String
    public var directory: URL
    /// Paths of submodules in the tree; they are left as empty directories.
    public var submodules: [String]
    /// True when the snapshot already existed and was reused.
    public var reused: Bool
}

/// Bare mirrors and commit snapshots under a state directory:
/// `<state>/git/<sha256 of url>.git` and `<state>/snapshots/<commit>/`.
///
/// libgit2 calls block, so they run on dispatch queues (one serial queue per mirror) and never
/// on Swift's cooperative pool; a file lock also serialises other processes using the same
/// state directory.
public final class GitStore: Sendable {
    public let stateDirectory: URL
    private let logger: Logger
    private let queues = QueueMap()

    /// - Parameter caFile: a PEM bundle trusted for https remotes (default: `$BERTH_GIT_CA_FILE`,
    ///   so every command and `serve` honour it; nil keeps the system's CAs). libgit2 keeps this
    ///   setting per process, so the last store created with one wins.
    public init(stateDirectory: URL, caFile: String? = GitStore.caFileFromEnvironment, logger: Logger) throws(GitSourceError) {
        try LibGit2.initialize()
        self.stateDirectory = stateDirectory
        self.logger = logger
        for dir in [gitDirectory, snapshotsDirectory] {
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            } catch {
                throw GitSourceError(kind: .storage, message: "cannot create \(dir.path): \(errorText(error))",
                                     hint: "Check BERTH_STATE_DIR and that this user may write there")
            }
        }
        removeStaleTemporaries(in: gitDirectory)
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw GitSourceError(kind: .certificate, message: "cannot read the CA file \(caFile)",
                                     hint: "Check the path and its permissions")
            }
            try LibGit2.check(berth_git_set_ssl_cert_locations(caFile, nil), .certificate,
                              "cannot use the CA file \(caFile)", hint: "It must be a PEM bundle")
        }
    }

    /// `BERTH_GIT_CA_FILE`, when set and not empty.
    public static var caFileFromEnvironment: String? {
        ProcessInfo.processInfo.environment["BERTH_GIT_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var gitDirectory: URL { stateDirectory.appendingPathComponent("git", isDirectory: true) }
    public var snapshotsDirectory: URL { stateDirectory.appendingPathComponent("snapshots", isDirectory: true) }

    /// Where the mirror of `url` lives. Plain paths are made absolute first.
    public func mirrorDirectory(for url: String) -> URL {
        let key = Self.normalized(url)
        let digest = Hex.string(SHA256.hash(data: Data(key.utf8)))
        return gitDirectory.appendingPathComponent("\(digest).git", isDirectory: true)
    }

    public func snapshotDirectory(for commit: String) -> URL {
        snapshotsDirectory.appendingPathComponent(commit.lowercased(), isDirectory: true)
    }

    static func normalized(_ url: String) -> String {
        if GitURL.isLocal(url) && !url.hasPrefix("file://") {
            return URL(fileURLWithPath: url).standardizedFileURL.path
        }
        return url
    }

    // MARK: fetch

    /// Clones a bare mirror of the remote on first use and fetches into it afterwards; all refs
    /// are mirrored and refs deleted upstream are pruned.
    public func fetch(_ remote: GitRemote) async throws(GitSourceError) -> FetchResult {
        let cancel = CancelFlag()
        let mirror = mirrorDirectory(for: remote.url)
        let result: Result<FetchResult, GitSourceError> = await withTaskCancellationHandler {
            do throws(GitSourceError) {
                return .success(try await run(on: mirror) { () throws(GitSourceError) -> FetchResult in
                    try self.fetchNow(remote, cancel: cancel)
                })
            } catch {
                return .failure(error)
            }
        } onCancel: {
            cancel.cancel()
        }
        return try result.get()
    }

    private func fetchNow(_ remote: GitRemote, cancel: CancelFlag) throws(GitSourceError) -> FetchResult {
        let mirror = mirrorDirectory(for: remote.url)
        let fm = FileManager.default
        // libgit2 calls a missing local path an "unsupported URL protocol"; say what it is.
        if GitURL.isLocal(remote.url) {
            let path = remote.url.hasPrefix("file://")
                ? (URL(string: remote.url)?.path ?? String(remote.url.dropFirst("file://".count)))
                : Self.normalized(remote.url)
            var isDirectory = false
            if !fm.fileExists(atPath: path, isDirectory: &isDirectory) || !isDirectory {
                throw GitSourceError(kind: .fetch, message: "cannot fetch \(remote): there is no directory \(path)",
                                     hint: "Check that the path exists and is a git repository (inside a container: that it is mounted)")
            }
        }
        let exists = fm.fileExists(atPath: mirror.appendingPathComponent("HEAD").path)
        // A first clone goes to a temporary directory, so a failed one leaves nothing that
        // looks like a mirror.
        let workDir = exists ? mirror : gitDirectory.appendingPathComponent(".tmp-\(UUID().uuidString).git")
        let repo = exists ? try Repository.openBare(workDir.path) : try Repository.initBare(workDir.path)
        var ok = false
        defer { if !exists && !ok { try? fm.removeItem(at: workDir) } }

        let remoteURL = remote.url.hasPrefix("file://") || !GitURL.isLocal(remote.url) ? remote.url : Self.normalized(remote.url)
        let origin = try originRemote(repo, url: remoteURL, shown: remote.description)
        let before = try refTargets(repo)

        logger.info("git fetch", metadata: ["url": "\(remote)", "mirror": "\(mirror.lastPathComponent)", "clone": "\(!exists)"])
        let callbacks = FetchCallbacks(remote: remote, cancel: cancel)
        var options = git_fetch_options()
        git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
        options.prune = GIT_FETCH_PRUNE
        options.update_fetchhead = 0
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
        callbacks.install(into: &options.callbacks)
        let code = withExtendedLifetime(callbacks) { git_remote_fetch(origin.pointer, nil, &options, "berth fetch") }
        for warning in callbacks.warnings { logger.warning("\(warning)", metadata: ["url": "\(remote)"]) }
        if code < 0 {
            if let failure = callbacks.failure { git_error_clear(); throw failure }
            throw Self.fetchError(code, remote: remote)
        }

        var defaultBranch: String?
        var buffer = git_buf()
        if git_remote_default_branch(&buffer, origin.pointer) == 0, let ptr = buffer.ptr {
            let name = String(cString: ptr)
            defaultBranch = name
            if git_repository_set_head(repo.pointer, name) < 0 {
                logger.debug("cannot point mirror HEAD at \(name): \(LibGit2.lastError().message)")
            }
        } else {
            git_error_clear()
        }
        git_buf_dispose(&buffer)

        let after = try refTargets(repo)
        let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
        if !exists {
            do {
                try fm.moveItem(at: workDir, to: mirror)
            } catch {
                // Another process cloned the same URL meanwhile; its mirror is as good as ours.
                if !fm.fileExists(atPath: mirror.appendingPathComponent("HEAD").path) {
                    throw GitSourceError(kind: .storage, message: "cannot move the new mirror into \(mirror.path): \(errorText(error))")
                }
                try? fm.removeItem(at: workDir)
            }
        }
        ok = true
        logger.info("git fetch done", metadata: ["url": "\(remote)", "changedRefs": "\(changed.count)"])
        return FetchResult(mirror: mirror, cloned: !exists, defaultBranch: defaultBranch, changedRefs: changed)
    }

    private func originRemote(_ repo: Repository, url: String, shown: String) throws(GitSourceError) -> Remote {
        var out: OpaquePointer?
        let code = git_remote_lookup(&out, repo.pointer, "origin")
        if code == GIT_ENOTFOUND.rawValue {
            git_error_clear()
            try LibGit2.check(git_remote_create_with_fetchspec(&out, repo.pointer, "origin", url, "+refs/*:refs/*"),
                              .fetch, "\(shown) is not a usable git URL",
                              hint: "Use file://, a path, git://, http(s):// or ssh:// (or user@host:path)")
        } else {
            try LibGit2.check(code, .storage, "cannot read the remote of mirror for \(shown)")
            let current = out.flatMap { git_remote_url($0) }.map { String(cString: $0) }
            if let existing = out, current != url {
                try LibGit2.check(git_remote_set_url(repo.pointer, "origin", url), .storage, "cannot update the mirror URL")
                git_remote_free(existing)
                out = nil
                try LibGit2.check(git_remote_lookup(&out, repo.pointer, "origin"), .storage, "cannot read the mirror's remote")
            }
        }
        guard let out else { throw GitSourceError(kind: .storage, message: "cannot set up the remote for \(shown)") }
        return Remote(out)
    }

    private func refTargets(_ repo: Repository) throws(GitSourceError) -> [String: String] {
        var result: [String: String] = [:]
        for name in try repo.referenceNames() {
            var oid = git_oid()
            if git_reference_name_to_id(&oid, repo.pointer, name) == 0 {
                result[name] = Repository.hex(oid)
            } else {
                git_error_clear()
            }
        }
        return result
    }

    private static func fetchError(_ code: Int32, remote: GitRemote) -> GitSourceError {
        let last = LibGit2.lastError()
        let shown = remote.description
        var kind = GitSourceError.Kind.fetch
        var hint = "Check the URL and that the server is running and reachable from this host"
        if code == GIT_EAUTH.rawValue {
            kind = .authentication
            hint = "Check the credentials for this repository"
        } else if last.klass == GIT_ERROR_SSH.rawValue, let key = remote.credentials.ssh,
                  last.message.lowercased().contains("private key") || last.message.lowercased().contains("passphrase") {
            // libssh2 cannot open the key before it ever talks to the server about it: most
            // often a wrong or missing passphrase.
            var error = GitSourceError(
                kind: .authentication,
                message: "cannot use the SSH key \(key.privateKeyPath) for \(shown): \(last.message)",
                hint: key.passphrase == nil
                    ? "The key may be protected by a passphrase: give it (BERTH_GIT_SSH_PASSPHRASE); it must be an OpenSSH or PEM private key"
                    : "Check the key's passphrase (BERTH_GIT_SSH_PASSPHRASE) and that the file is an OpenSSH or PEM private key")
            error.libgit2 = (last.klass, code)
            return error
        } else if code == GIT_ECERTIFICATE.rawValue {
            kind = .certificate
            hint = "Give the CA file that signed the server's certificate, or fix the server"
        } else if GitURL.isLocal(remote.url) {
            hint = "Check that the path exists and is a git repository"
        }
        // libgit2 repeats nothing secret, but its message can quote the URL as given.
        let message = last.message.replacing(remote.url, with: shown)
        var error = GitSourceError(kind: kind, message: "cannot fetch \(shown): \(message)", hint: hint)
        error.libgit2 = (last.klass, code)
        return error
    }

    // MARK: resolve

    /// Resolves a branch name, tag (annotated tags peeled), full or abbreviated commit id,
    /// `HEAD` or full `refs/…` name in the mirror of `url` to a commit.
    public func resolve(_ ref: String, in url: String) async throws(GitSourceError) -> ResolvedRef {
        let mirror = mirrorDirectory(for: url)
        return try await run(on: mirror) { () throws(GitSourceError) -> ResolvedRef in
            try self.resolveNow(ref, url: url, repo: self.openMirror(url))
        }
    }

    private func openMirror(_ url: String) throws(GitSourceError) -> Repository {
        let mirror = mirrorDirectory(for: url)
        guard FileManager.default.fileExists(atPath: mirror.appendingPathComponent("HEAD").path) else {
            throw GitSourceError(kind: .storage, message: "there is no mirror of \(GitURL.redacted(url)) yet",
                                 hint: "Fetch the repository first")
        }
        return try Repository.openBare(mirror.path)
    }

    func resolveNow(_ ref: String, url: String, repo: Repository) throws(GitSourceError) -> ResolvedRef {
        let shown = GitURL.redacted(url)
        let name = ref.trimming(.whitespaces)
        guard !name.isEmpty else {
            throw GitSourceError(kind: .badRef, message: "empty ref for \(shown)", hint: "Name a branch, tag or commit")
        }
        if name == "HEAD" {
            var out: OpaquePointer?
            let code = git_repository_head(&out, repo.pointer)
            if code == 0, let out {
                let head = Reference(out)
                if let commit = head.peelToCommit() { return ResolvedRef(commit: Repository.hex(commit.id), reference: head.name) }
            }
            git_error_clear()
            throw GitSourceError(kind: .badRef, message: "HEAD of \(shown) names no commit", hint: "Name a branch, tag or commit")
        }
        let candidates = name.hasPrefix("refs/") ? [name] : ["refs/heads/\(name)", "refs/tags/\(name)", "refs/\(name)"]
        for candidate in candidates {
            guard let reference = try repo.reference(candidate) else { continue }
            guard let commit = reference.peelToCommit() else {
                throw GitSourceError(kind: .badRef, message: "\(candidate) in \(shown) does not point to a commit",
                                     hint: "Name a branch, tag or commit")
            }
            return ResolvedRef(commit: Repository.hex(commit.id), reference: reference.name)
        }
        if (4...40).contains(name.count), name.allSatisfy(\.isHexDigit), let object = try repo.lookup(prefix: name) {
            guard let commit = object.peelToCommit() else {
                throw GitSourceError(kind: .badRef, message: "\(name) in \(shown) is not a commit", hint: "Name a commit id")
            }
            return ResolvedRef(commit: Repository.hex(commit.id), reference: nil)
        }
        throw badRefError(name, shown: shown, names: try repo.referenceNames())
    }

    private func badRefError(_ name: String, shown: String, names: [String]) -> GitSourceError {
        let branches = names.filter { $0.hasPrefix("refs/heads/") }.map { String($0.dropFirst("refs/heads/".count)) }.sorted()
        let tags = names.filter { $0.hasPrefix("refs/tags/") }.map { String($0.dropFirst("refs/tags/".count)) }
        let wanted = name.hasPrefix("refs/heads/") ? String(name.dropFirst("refs/heads/".count)) : name
        let lowerWanted = wanted.lowercased()
        let limit = max(2, wanted.count / 3)
        var scored: [(name: String, distance: Int)] = []
        for candidate in branches + tags {
            let lower = candidate.lowercased()
            let distance = Self.editDistance(lower, lowerWanted)
            if distance <= limit || lower.contains(lowerWanted) { scored.append((candidate, distance)) }
        }
        scored.sort { (a: (name: String, distance: Int), b: (name: String, distance: Int)) -> Bool in
            a.distance != b.distance ? a.distance < b.distance : a.name < b.name
        }
        let close = scored.prefix(5).map { $0.name }
        var hint: String
        if !close.isEmpty {
            hint = "Did you mean " + close.joined(separator: ", ") + "?"
        } else if branches.isEmpty {
            hint = "The repository has no branches"
        } else {
            hint = "Branches: " + branches.prefix(10).joined(separator: ", ") + (branches.count > 10 ? ", …" : "")
        }
        return GitSourceError(kind: .badRef, message: "\(shown) has no branch, tag or commit named \"\(name)\"", hint: hint)
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    // MARK: snapshots

    /// The read-only tree of `commit` (a full commit id, see `resolve`) at
    /// `<state>/snapshots/<commit>/`, written once from the mirror of `url` and reused after.
    public func snapshot(commit: String, from url: String) async throws(GitSourceError) -> Snapshot {
        let mirror = mirrorDirectory(for: url)
        return try await run(on: mirror) { () throws(GitSourceError) -> Snapshot in try self.snapshotNow(commit, url: url) }
    }

    private func snapshotNow(_ commit: String, url: String) throws(GitSourceError) -> Snapshot {
        let commit = commit.lowercased()
        guard commit.count == 40, commit.allSatisfy(\.isHexDigit) else {
            throw GitSourceError(kind: .badRef, message: "\"\(commit)\" is not a full commit id",
                                 hint: "Resolve the ref to a commit first")
        }
        let target = snapshotDirectory(for: commit)
        let fm = FileManager.default
        if fm.fileExists(atPath: target.path) {
            touch(target.path)
            let submodules = (try? submodulePaths(commit: commit, url: url)) ?? []
            return Snapshot(commit: commit, directory: target, submodules: submodules, reused: true)
        }
        let repo = try openMirror(url)
        let tree = try commitTree(repo, commit: commit, url: url)
        let temp = snapshotsDirectory.appendingPathComponent(".tmp-\(commit)-\(UUID().uuidString)")
        guard mkdir(temp.path, 0o755) == 0 else { throw Self.posixError("cannot create \(temp.path)") }
        var submodules: [String] = []
        do throws(GitSourceError) {
            try write(tree, into: temp.path, prefix: "", repo: repo, submodules: &submodules)
        } catch {
            Self.removeTree(temp.path)
            throw error
        }
        if rename(temp.path, target.path) != 0 {
            let err = errno
            Self.removeTree(temp.path)
            // Someone else wrote the same commit first; snapshots of one commit are identical.
            guard err == EEXIST || err == ENOTEMPTY else {
                throw GitSourceError(kind: .storage, message: "cannot move the snapshot into \(target.path): \(String(cString: strerror(err)))")
            }
            return Snapshot(commit: commit, directory: target, submodules: submodules, reused: true)
        }
        chmod(target.path, 0o555)
        logger.debug("git snapshot written", metadata: ["commit": "\(commit)", "dir": "\(target.path)"])
        return Snapshot(commit: commit, directory: target, submodules: submodules, reused: false)
    }

    private func commitTree(_ repo: Repository, commit: String, url: String) throws(GitSourceError) -> Tree {
        guard let object = try repo.lookup(prefix: commit), let commitObject = object.peelToCommit(),
              let treeID = commitObject.commitTreeID else {
            throw GitSourceError(kind: .badRef, message: "commit \(commit) is not in the mirror of \(GitURL.redacted(url))",
                                 hint: "Fetch the repository, and check that the commit is on a branch or tag")
        }
        return try repo.tree(treeID)
    }

    private func submodulePaths(commit: String, url: String) throws(GitSourceError) -> [String] {
        let repo = try openMirror(url)
        var result: [String] = []
        func walk(_ tree: Tree, _ prefix: String) throws(GitSourceError) {
            for entry in tree.entries {
                if entry.mode == GIT_FILEMODE_COMMIT { result.append(prefix + entry.name) }
                if entry.mode == GIT_FILEMODE_TREE { try walk(try repo.tree(entry.id), prefix + entry.name + "/") }
            }
        }
        try walk(try commitTree(repo, commit: commit, url: url), "")
        return result
    }

    private func write(_ tree: Tree, into dir: String, prefix: String, repo: Repository,
                       submodules: inout [String]) throws(GitSourceError) {
        for entry in tree.entries {
            let name = entry.name
            // A crafted tree could name `..` or `.git`; git itself refuses to check those out.
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), name.lowercased() != ".git" else {
                throw GitSourceError(kind: .storage, message: "the commit's tree has an unsafe path \"\(prefix)\(name)\"",
                                     hint: "Remove it from the repository")
            }
            let path = dir + "/" + name
            switch entry.mode {
            case GIT_FILEMODE_TREE:
                guard mkdir(path, 0o755) == 0 else { throw Self.posixError("cannot create \(path)") }
                try write(try repo.tree(entry.id), into: path, prefix: prefix + name + "/", repo: repo, submodules: &submodules)
                chmod(path, 0o555)
            case GIT_FILEMODE_BLOB, GIT_FILEMODE_BLOB_EXECUTABLE:
                let blob = try repo.blob(entry.id)
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw Self.posixError("cannot create \(path)") }
                var remaining = blob.bytes
                while !remaining.isEmpty {
                    let n = Glibc.write(fd, remaining.baseAddress, remaining.count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        let error = Self.posixError("cannot write \(path)")
                        close(fd)
                        throw error
                    }
                    remaining = UnsafeRawBufferPointer(rebasing: remaining[n...])
                }
                fchmod(fd, entry.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0o555 : 0o444)
                close(fd)
            case GIT_FILEMODE_LINK:
                let blob = try repo.blob(entry.id)
                var target = [CChar](repeating: 0, count: blob.bytes.count + 1)
                for (i, byte) in blob.bytes.enumerated() { target[i] = CChar(bitPattern: byte) }
                guard symlink(target, path) == 0 else { throw Self.posixError("cannot create symlink \(path)") }
            case GIT_FILEMODE_COMMIT:
                submodules.append(prefix + name)
                guard mkdir(path, 0o555) == 0 else { throw Self.posixError("cannot create \(path)") }
                logger.notice("git snapshot skips submodule", metadata: ["path": "\(prefix)\(name)"])
            default:
                logger.warning("git snapshot skips entry of unknown mode", metadata: ["path": "\(prefix)\(name)"])
            }
        }
    }

    /// Removes snapshots except those whose commit is in `keep` and the `newest` most recently
    /// used ones; also removes leftovers of interrupted writes. Returns the removed commits.
    public func removeSnapshots(keeping keep: Set<String>, newest: Int) async throws(GitSourceError) -> [String] {
        try await run(on: snapshotsDirectory) { () throws(GitSourceError) -> [String] in
            let fm = FileManager.default
            let keep = Set(keep.map { $0.lowercased() })
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: self.snapshotsDirectory.path) } catch {
                throw GitSourceError(kind: .storage, message: "cannot list \(self.snapshotsDirectory.path): \(errorText(error))")
            }
            self.removeStaleTemporaries(in: self.snapshotsDirectory)
            var snapshots: [(commit: String, mtime: Double)] = []
            for name in names {
                let path = self.snapshotsDirectory.appendingPathComponent(name).path
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                if name.hasPrefix(".tmp-") { continue }
                guard name.count == 40, name.allSatisfy(\.isHexDigit) else { continue }
                snapshots.append((name, mtime))
            }
            snapshots.sort { $0.mtime != $1.mtime ? $0.mtime > $1.mtime : $0.commit < $1.commit }
            var removed: [String] = []
            for (index, snapshot) in snapshots.enumerated() where index >= newest && !keep.contains(snapshot.commit) {
                Self.removeTree(self.snapshotDirectory(for: snapshot.commit).path)
                removed.append(snapshot.commit)
            }
            if !removed.isEmpty { self.logger.info("git snapshots removed", metadata: ["count": "\(removed.count)"]) }
            return removed.sorted()
        }
    }

    /// Clones and snapshots a crashed process left half written (an hour old, so never one in
    /// progress).
    private func removeStaleTemporaries(in dir: URL) {
        let now = Date().timeIntervalSince1970
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasPrefix(".tmp-") {
            let path = dir.appendingPathComponent(name).path
            var info = stat()
            if lstat(path, &info) == 0, now - Double(info.st_mtim.tv_sec) > 3600 { Self.removeTree(path) }
        }
    }

    private func touch(_ path: String) {
        _ = utimes(path, nil)
    }

    /// Deletes a tree that may hold read-only directories, never following symlinks.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            chmod(path, 0o755)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for name in names { removeTree(path + "/" + name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    private static func posixError(_ what: String) -> GitSourceError {
        GitSourceError(kind: .storage, message: "\(what): \(String(cString: strerror(errno)))",
                       hint: "Check free space and permissions of the state directory")
    }

    // MARK: threads

    /// Runs blocking work on the serial queue of `key`, holding a file lock beside it so other
    /// processes sharing the state directory wait too.
    private func run<T: Sendable>(on key: URL, _ body: @escaping @Sendable () throws(GitSourceError) -> T) async throws(GitSourceError) -> T {
        let queue = queues.queue(for: key.path)
        let lockPath = key.path + ".lock"
        let result: Result<T, GitSourceError> = await withCheckedContinuation { continuation in
            queue.async {
                let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                if fd >= 0 { flock(fd, LOCK_EX) }
                defer { if fd >= 0 { flock(fd, LOCK_UN); close(fd) } }
                continuation.resume(returning: Result { () throws(GitSourceError) -> T in try body() })
            }
        }
        return try result.get()
    }
}

/// One serial dispatch queue per mirror (or other key), made on first use.
private final class QueueMap: @unchecked Sendable {
    private let lock = Lock()
    private var queues: [String: DispatchQueue] = [:]

    func queue(for key: String) -> DispatchQueue {
        lock.withLock {
            if let queue = queues[key] { return queue }
            let queue = DispatchQueue(label: "berth.git.\(queues.count)")
            queues[key] = queue
            return queue
        }
    }
}
