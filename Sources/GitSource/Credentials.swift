import CGit2
import Crypto
import FoundationEssentials
import Platform
import Glibc

/// How to authenticate to a remote and which servers to trust. Its description never shows a
/// secret.
public struct GitCredentials: Sendable, Hashable, CustomStringConvertible {
    /// HTTP(S) authentication, offered when the server answers 401.
    public enum HTTP: Sendable, Hashable {
        /// An access token sent as the password; most forges accept any user name with it.
        case token(String, username: String = "x-access-token")
        case basic(username: String, password: String)
    }

    /// An SSH private key file (OpenSSH or PEM), with its optional passphrase.
    public struct SSHKey: Sendable, Hashable {
        /// The user to log in as; nil uses the one in the URL, else `git`.
        public var username: String?
        public var privateKeyPath: String
        /// Some libssh2 builds need the public key beside the private one; nil lets it derive it.
        public var publicKeyPath: String?
        public var passphrase: String?

        public init(username: String? = nil, privateKeyPath: String, publicKeyPath: String? = nil,
                    passphrase: String? = nil) {
            self.username = username
            self.privateKeyPath = privateKeyPath
            self.publicKeyPath = publicKeyPath
            self.passphrase = passphrase
        }
    }

    public var http: HTTP?
    public var ssh: SSHKey?
    /// The known_hosts file SSH host keys are checked against; nil means `~/.ssh/known_hosts`.
    public var knownHostsFile: String?
    /// Accept an SSH host that is not in known_hosts (a changed key is still refused).
    public var allowUnknownHosts: Bool

    public init(http: HTTP? = nil, ssh: SSHKey? = nil, knownHostsFile: String? = nil, allowUnknownHosts: Bool = false) {
        self.http = http
        self.ssh = ssh
        self.knownHostsFile = knownHostsFile
        self.allowUnknownHosts = allowUnknownHosts
    }

    public var description: String {
        var parts: [String] = []
        switch http {
        case .token(_, let user)?: parts.append("http token (user \(user))")
        case .basic(let user, _)?: parts.append("http user \(user)")
        case nil: break
        }
        if let ssh {
            parts.append("ssh key \(ssh.privateKeyPath)" + (ssh.passphrase == nil ? "" : " with passphrase"))
        }
        if allowUnknownHosts { parts.append("unknown ssh hosts allowed") }
        return parts.isEmpty ? "no credentials" : parts.joined(separator: ", ")
    }
}

/// A remote URL with its credentials.
public struct GitRemote: Sendable, Hashable, CustomStringConvertible {
    /// `file://…`, a plain path, `git://…`, `http(s)://…`, `ssh://…` or scp-like `user@host:path`.
    public var url: String
    public var credentials: GitCredentials

    public init(url: String, credentials: GitCredentials = GitCredentials()) {
        self.url = url
        self.credentials = credentials
    }

    /// The URL with any password or token in it replaced by `***`.
    public var description: String { GitURL.redacted(url) }
}

/// URL helpers that know git's URL forms.
enum GitURL {
    /// Hides a password in `scheme://user:password@host/…`.
    static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        let userinfo = authority[..<at]
        let user = userinfo.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        let shown = userinfo.contains(":") ? "\(user):***" : user
        return String(url[..<schemeEnd.upperBound]) + shown + String(rest[at...])
    }

    /// Host and port of an SSH URL (`ssh://[user@]host[:port]/path` or `[user@]host:path`).
    static func sshHostPort(_ url: String) -> (host: String, port: Int)? {
        if let components = URLComponents(string: url), let scheme = components.scheme {
            guard scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git", let host = components.host else { return nil }
            return (host, components.port ?? 22)
        }
        // scp-like: [user@]host:path, no scheme.
        guard !url.contains("://"), let colon = url.firstIndex(of: ":") else { return nil }
        var host = url[..<colon]
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), 22)
    }

    /// Whether the URL names a local repository (file:// or a path).
    static func isLocal(_ url: String) -> Bool {
        if url.hasPrefix("file://") { return true }
        if url.contains("://") { return false }
        if url.hasPrefix("/") || url.hasPrefix(".") { return true }
        return sshHostPort(url) == nil
    }
}

/// Host-key checking against an OpenSSH known_hosts file.
enum KnownHosts {
    enum Verdict: Equatable {
        case trusted
        /// The host is known with a different key of the same type: possibly an attack.
        case changed
        case revoked
        case unknown
    }

    /// Checks `key` (the raw SSH public key blob) of type `keyType` (e.g. `ssh-ed25519`).
    static func check(host: String, port: Int, keyType: String, key: [UInt8], knownHosts text: String) -> Verdict {
        let name = port == 22 ? host : "[\(host)]:\(port)"
        var sawOtherKeyOfType = false
        var trusted = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimming(.whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var marker: String?
            if let first = fields.first, first.hasPrefix("@") { marker = first; fields.removeFirst() }
            guard fields.count >= 3 else { continue }
            guard matches(hostField: fields[0], name: name) else { continue }
            if marker == "@cert-authority" { continue }
            let entryKey = Data(base64Encoded: fields[2]).map { [UInt8]($0) }
            if marker == "@revoked" {
                if entryKey == key { return .revoked }
                continue
            }
            guard fields[1] == keyType else { continue }
            if entryKey == key { trusted = true } else { sawOtherKeyOfType = true }
        }
        if trusted { return .trusted }
        return sawOtherKeyOfType ? .changed : .unknown
    }

    /// A known_hosts host field: comma-separated patterns (`*`, `?`, `!negation`) or one hashed
    /// `|1|salt|hmac` entry.
    static func matches(hostField: String, name: String) -> Bool {
        if hostField.hasPrefix("|1|") {
            let parts = hostField.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 4, let salt = Data(base64Encoded: String(parts[2])),
                  let expected = Data(base64Encoded: String(parts[3])) else { return false }
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
            return Data(mac) == expected
        }
        var matched = false
        for pattern in hostField.split(separator: ",") {
            if pattern.hasPrefix("!") {
                if glob(String(pattern.dropFirst()).lowercased(), name.lowercased()) { return false }
            } else if glob(String(pattern).lowercased(), name.lowercased()) {
                matched = true
            }
        }
        return matched
    }

    private static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) { pi += 1; ti += 1 }
            else if pi < p.count && p[pi] == "*" { star = pi; mark = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ti = mark }
            else { return false }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    static func keyTypeName(_ raw: git_cert_ssh_raw_type_t) -> String? {
        switch raw {
        case GIT_CERT_SSH_RAW_TYPE_RSA: return "ssh-rsa"
        case GIT_CERT_SSH_RAW_TYPE_DSS: return "ssh-dss"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return "ecdsa-sha2-nistp256"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return "ecdsa-sha2-nistp384"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return "ecdsa-sha2-nistp521"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return "ssh-ed25519"
        default: return nil
        }
    }
}

/// A flag a task's cancellation handler sets and libgit2's progress callback reads.
final class CancelFlag: @unchecked Sendable {
    private let lock = Lock()
    private var cancelled = false
    func cancel() { lock.withLock { cancelled = true } }
    var isCancelled: Bool { lock.withLock { cancelled } }
}

/// State the libgit2 callbacks of one fetch share, passed as their payload. Only the fetching
/// thread touches it.
final class FetchCallbacks {
    let remote: GitRemote
    let cancel: CancelFlag
    /// A failure a callback diagnosed better than libgit2 would.
    var failure: GitSourceError?
    var warnings: [String] = []
    private var passwordAttempts = 0
    private var keyAttempts = 0

    init(remote: GitRemote, cancel: CancelFlag) {
        self.remote = remote
        self.cancel = cancel
    }

    private var shownURL: String { remote.description }

    func acquire(_ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>,
                 usernameFromURL: String?, allowed: UInt32) -> Int32 {
        let credentials = remote.credentials
        if allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 {
            passwordAttempts += 1
            guard let http = credentials.http else {
                failure = GitSourceError(kind: .authentication, message: "\(shownURL) asks for a user name and password",
                                         hint: "Give a token or a user and password for this repository")
                return GIT_EUSER.rawValue
            }
            if passwordAttempts > 1 {
                failure = GitSourceError(kind: .authentication, message: "\(shownURL) refused the credentials (\(credentials))",
                                         hint: "Check the token or password and that it may read this repository")
                return GIT_EUSER.rawValue
            }
            switch http {
            case .token(let token, let user): return git_credential_userpass_plaintext_new(out, user, token)
            case .basic(let user, let password): return git_credential_userpass_plaintext_new(out, user, password)
            }
        }
        let sshUser = credentials.ssh?.username ?? usernameFromURL ?? "git"
        if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 {
            return git_credential_username_new(out, sshUser)
        }
        if allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 {
            keyAttempts += 1
            guard let key = credentials.ssh else {
                failure = GitSourceError(kind: .authentication, message: "\(shownURL) asks for an SSH key",
                                         hint: "Give an SSH private key file for this repository")
                return GIT_EUSER.rawValue
            }
            if keyAttempts > 1 {
                failure = GitSourceError(kind: .authentication,
                                         message: "\(shownURL) refused the SSH key \(key.privateKeyPath) for user \(sshUser)",
                                         hint: "Check that the key's public half is authorised on the server"
                                            + (key.passphrase == nil ? " and whether the key needs a passphrase" : " and the passphrase"))
                return GIT_EUSER.rawValue
            }
            guard FileManager.default.isReadableFile(atPath: key.privateKeyPath) else {
                failure = GitSourceError(kind: .authentication, message: "cannot read SSH key \(key.privateKeyPath)",
                                         hint: "Check the path and that this user may read it")
                return GIT_EUSER.rawValue
            }
            return git_credential_ssh_key_new(out, sshUser, key.publicKeyPath, key.privateKeyPath, key.passphrase)
        }
        failure = GitSourceError(kind: .authentication,
                                 message: "\(shownURL) asks for a kind of authentication Berth does not offer (types \(allowed))",
                                 hint: "Use a token, a user and password, or an SSH key")
        return GIT_EUSER.rawValue
    }

    func checkCertificate(_ cert: UnsafeMutablePointer<git_cert>, valid: Bool, host: String) -> Int32 {
        if cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 {
            return checkHostKey(UnsafeMutableRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee, host: host)
        }
        if valid { return 0 }
        failure = GitSourceError(kind: .certificate, message: "the TLS certificate of \(host) (\(shownURL)) is not trusted",
                                 hint: "Give the CA file that signed it (BERTH_GIT_CA_FILE), or fix the server's certificate")
        return GIT_ECERTIFICATE.rawValue
    }

    private func checkHostKey(_ key: git_cert_hostkey, host: String) -> Int32 {
        let port = GitURL.sshHostPort(remote.url)?.port ?? 22
        let file = remote.credentials.knownHostsFile
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".ssh/known_hosts").path
        guard key.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = key.hostkey,
              let typeName = KnownHosts.keyTypeName(key.raw_type) else {
            failure = GitSourceError(kind: .certificate, message: "cannot read the SSH host key of \(host)",
                                     hint: "The server's key type is not supported")
            return GIT_ECERTIFICATE.rawValue
        }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: raw, count: key.hostkey_len))
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let fingerprint = "SHA256:" + Data(SHA256.hash(data: bytes)).base64EncodedString().replacing("=", with: "")
        switch KnownHosts.check(host: host, port: port, keyType: typeName, key: bytes, knownHosts: text) {
        case .trusted:
            return 0
        case .unknown where remote.credentials.allowUnknownHosts:
            warnings.append("accepted unknown SSH host \(host) (\(typeName) \(fingerprint)); add it to \(file) to pin it")
            return 0
        case .unknown:
            failure = GitSourceError(kind: .certificate,
                                     message: "SSH host \(host) port \(port) is not in \(file) (its \(typeName) key is \(fingerprint))",
                                     hint: "Check the fingerprint, then add the key: ssh-keyscan -p \(port) \(host) >> \(file); "
                                        + "or allow unknown hosts explicitly (BERTH_GIT_ALLOW_UNKNOWN_HOSTS=1)")
        case .changed:
            failure = GitSourceError(kind: .certificate,
                                     message: "the SSH host key of \(host) port \(port) differs from the one in \(file) (now \(typeName) \(fingerprint))",
                                     hint: "Someone may be intercepting the connection; if the server's key really changed, update \(file)")
        case .revoked:
            failure = GitSourceError(kind: .certificate, message: "the SSH host key of \(host) is marked @revoked in \(file)",
                                     hint: "Do not connect to this server until its key is replaced")
        }
        return GIT_ECERTIFICATE.rawValue
    }

    func progress() -> Int32 {
        if cancel.isCancelled {
            failure = GitSourceError(kind: .cancelled, message: "fetching \(shownURL) was cancelled")
            return GIT_EUSER.rawValue
        }
        return 0
    }

    /// Wires these callbacks into libgit2's callback struct; `self` must outlive the fetch.
    func install(into callbacks: inout git_remote_callbacks) {
        callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
        callbacks.credentials = { out, _, usernameFromURL, allowed, payload in
            guard let out, let payload else { return GIT_EUSER.rawValue }
            let me = Unmanaged<FetchCallbacks>.fromOpaque(payload).takeUnretainedValue()
            return me.acquire(out, usernameFromURL: usernameFromURL.map { String(cString: $0) }, allowed: allowed)
        }
        callbacks.certificate_check = { cert, valid, host, payload in
            guard let cert, let payload else { return GIT_ECERTIFICATE.rawValue }
            let me = Unmanaged<FetchCallbacks>.fromOpaque(payload).takeUnretainedValue()
            return me.checkCertificate(cert, valid: valid != 0, host: host.map { String(cString: $0) } ?? "")
        }
        callbacks.transfer_progress = { _, payload in
            guard let payload else { return 0 }
            return Unmanaged<FetchCallbacks>.fromOpaque(payload).takeUnretainedValue().progress()
        }
        callbacks.sideband_progress = { _, _, payload in
            guard let payload else { return 0 }
            return Unmanaged<FetchCallbacks>.fromOpaque(payload).takeUnretainedValue().progress()
        }
    }
}
