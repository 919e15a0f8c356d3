// Just enough of the image reference grammar to compare names the way the engine resolves them
// (`busybox` is `docker.io/library/busybox:latest`) and to split a reference for tagging.

enum ImageReference {
    /// The fully qualified form, for comparing two references.
    static func canonical(_ reference: String) -> String {
        var name = reference
        var digest = ""
        if let at = name.firstIndex(of: "@") {
            digest = String(name[at...])
            name = String(name[..<at])
        }
        var (repository, tag) = split(name)
        if tag == nil && digest.isEmpty { tag = "latest" }
        let parts = repository.split(separator: "/", maxSplits: 1).map(String.init)
        if parts.count == 1 || !isDomain(parts[0]) {
            repository = "docker.io/" + (parts.count == 1 ? "library/" + repository : repository)
        } else if parts[0] == "index.docker.io" {
            repository = "docker.io/" + parts[1]
        }
        if parts.count == 2, parts[0] == "docker.io" || parts[0] == "index.docker.io", !parts[1].contains("/") {
            repository = "docker.io/library/" + parts[1]
        }
        return repository + (tag.map { ":" + $0 } ?? "") + digest
    }

    /// `host:5000/a/b:tag` → (`host:5000/a/b`, `tag`); the tag is nil when there is none.
    /// A digest (`@sha256:…`) must have been removed first.
    static func split(_ reference: String) -> (repository: String, tag: String?) {
        let lastSlash = reference.lastIndex(of: "/")
        let searchFrom = lastSlash.map { reference.index(after: $0) } ?? reference.startIndex
        if let colon = reference[searchFrom...].lastIndex(of: ":") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, nil)
    }

    /// The repository part of a tag reference (no tag, no digest).
    static func repository(_ reference: String) -> String {
        var name = reference
        if let at = name.firstIndex(of: "@") { name = String(name[..<at]) }
        return split(name).repository
    }

    private static func isDomain(_ component: String) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost"
    }
}
