import FoundationEssentials
import Glibc

/// An image reference parsed by Docker's rules: `busybox` is `docker.io/library/busybox:latest`,
/// a first component with a `.` or `:` (or `localhost`) names the registry, then an optional
/// `:tag` and `@sha256:` digest.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// Registry host and optional port as written (`docker.io`, `127.0.0.1:5000`).
    public var registry: String
    /// Repository path within the registry (`library/busybox`, `demo/web`).
    public var repository: String
    /// The tag; `parse` fills in `latest` when neither tag nor digest is given.
    public var tag: String?
    /// `sha256:<64 hex>` when the reference pins a digest.
    public var digest: String?

    public static let defaultRegistry = "docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Full form: `registry/repository[:tag][@digest]`.
    public var description: String {
        var s = "\(registry)/\(repository)"
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// `registry/repository` without tag or digest.
    public var name: String { "\(registry)/\(repository)" }

    /// What the manifest is stored under: the tag, else the digest.
    public var manifestReference: String { tag ?? digest ?? "latest" }

    /// The host the registry API answers on (Docker Hub's API is not on `docker.io` itself).
    public var apiHost: String { registry == "docker.io" ? "registry-1.docker.io" : registry }

    /// The same repository with another tag and no digest.
    public func with(tag: String) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: tag, digest: nil)
    }

    /// The fully qualified form (`busybox` → `docker.io/library/busybox:latest`), for comparing
    /// two references the way the engine resolves them. Text that is not a valid reference
    /// compares as written.
    public static func canonical(_ text: String) -> String {
        (try? parse(text))?.description ?? text
    }

    /// Parses `[registry/]repository[:tag][@sha256:hex]` and validates each part.
    public static func parse(_ text: String) throws(RegistryError) -> ImageReference {
        func bad(_ why: String) -> RegistryError {
            RegistryError(.invalidReference, "invalid image reference \"\(text)\": \(why)",
                hint: "Write it as [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], "
                    + "e.g. 127.0.0.1:5000/demo/web:1.0 or busybox.")
        }
        guard !text.isEmpty else { throw bad("it is empty") }
        guard text.utf8.count <= 4096 else { throw bad("it is too long") }
        if text.contains(where: { $0.isWhitespace }) { throw bad("it contains whitespace") }
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            if let why = validateDigest(d) { throw bad(why) }
            digest = d
        }
        var tag: String?
        let tail = rest.lastIndex(of: "/").map { rest[rest.index(after: $0)...] } ?? rest
        if let colon = tail.lastIndex(of: ":") {
            let t = String(tail[tail.index(after: colon)...])
            guard isValidTag(t) else {
                throw bad("tag \"\(t)\" is not valid (letters, digits, _ . - only, at most 128, not starting with . or -)")
            }
            tag = t
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, !components.contains(where: \.isEmpty) else {
            throw bad("the name is empty or has an empty path component")
        }
        var registry = defaultRegistry
        if components.count > 1,
            components[0].contains(".") || components[0].contains(":") || components[0] == "localhost"
                || components[0] != components[0].lowercased()
        {
            registry = components.removeFirst()
            if let why = validateRegistry(registry) { throw bad(why) }
        }
        if registry == "index.docker.io" { registry = defaultRegistry }
        for c in components {
            if c != c.lowercased() { throw bad("repository name must be lowercase (\"\(c)\")") }
            guard isValidPathComponent(c) else {
                throw bad("path component \"\(c)\" is not valid (lowercase letters and digits, separated by . _ __ or -)")
            }
        }
        if registry == defaultRegistry && components.count == 1 { components.insert("library", at: 0) }
        let repository = components.joined(separator: "/")
        guard registry.utf8.count + 1 + repository.utf8.count <= 255 else {
            throw bad("the name is longer than 255 characters")
        }
        if tag == nil && digest == nil { tag = "latest" }
        return ImageReference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// Nil when `d` is a valid `sha256:` digest, else why not.
    static func validateDigest(_ d: String) -> String? {
        guard d.hasPrefix("sha256:") else { return "digest \"\(d)\" must start with sha256:" }
        let hex = d.dropFirst(7)
        guard hex.count == 64, hex.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            return "digest \"\(d)\" must be sha256: followed by 64 lowercase hex digits"
        }
        return nil
    }

    static func isValidTag(_ t: String) -> Bool {
        guard let first = t.first, t.count <= 128, first != ".", first != "-" else { return false }
        return t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidPathComponent(_ c: String) -> Bool {
        let chars = Array(c)
        func alnum(_ ch: Character) -> Bool { ch.isASCII && (ch.isNumber || ("a"..."z").contains(ch)) }
        guard let f = chars.first, alnum(f) else { return false }
        var i = 0
        while i < chars.count {
            while i < chars.count && alnum(chars[i]) { i += 1 }
            if i == chars.count { return true }
            if chars[i] == "." {
                i += 1
            } else if chars[i] == "_" {
                i += 1
                if i < chars.count && chars[i] == "_" { i += 1 }
            } else if chars[i] == "-" {
                while i < chars.count && chars[i] == "-" { i += 1 }
            } else {
                return false
            }
            guard i < chars.count, alnum(chars[i]) else { return false }
        }
        return true
    }

    static func validateRegistry(_ r: String) -> String? {
        var host = Substring(r)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "registry \"\(r)\" has an unclosed [" }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                port = after.dropFirst()
            } else if !after.isEmpty {
                return "registry \"\(r)\" is not host[:port]"
            }
            host = host[host.index(after: host.startIndex)..<close]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return "registry \"\(r)\" has an invalid IPv6 address"
            }
        } else {
            if let colon = host.lastIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            for l in host.split(separator: ".", omittingEmptySubsequences: false) {
                guard !l.isEmpty, l.first != "-", l.last != "-",
                    l.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
                else { return "registry host \"\(host)\" is not a valid host name" }
            }
        }
        if let port {
            guard port.allSatisfy(\.isNumber), let p = Int(port), (1...65535).contains(p) else {
                return "registry port \"\(port)\" is not a number from 1 to 65535"
            }
        }
        return nil
    }

    /// True for hosts that never leave this machine: `localhost`, 127.0.0.0/8 and `::1`.
    static func isLoopback(host registry: String) -> Bool {
        var host = registry
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<close])
            return host == "::1" || host == "0:0:0:0:0:0:0:1"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
