import BerthYAML
import FoundationEssentials
import Glibc
import Interpolation

/// Turns every short syntax into its long form so the rest of Berth sees one shape.
enum Canonical {
    static func transform(_ document: YAMLNode) throws(ComposeError) -> YAMLNode {
        var doc = document
        if var services = doc["services"], var pairs = services.pairs {
            for i in pairs.indices {
                let name = pairs[i].key.scalarText ?? ""
                pairs[i].value = try transformService(pairs[i].value, TreePath(["services", name]))
            }
            services.content = .mapping(pairs)
            doc["services"] = services
        }
        for kind in ["networks", "volumes", "secrets", "configs"] {
            guard var top = doc[kind], var pairs = top.pairs else { continue }
            for i in pairs.indices {
                var resource = pairs[i].value
                if resource.isNull { resource = YAMLNode(.mapping([]), mark: resource.mark) }
                if let labels = resource["labels"] { resource["labels"] = toMapping(labels, stringValues: true) }
                if let external = resource["external"], external.isMapping {
                    // Legacy `external: {name: x}`.
                    if let name = external["name"] { resource["name"] = name }
                    resource["external"] = .bool(true, mark: external.mark)
                }
                if kind == "networks", var ipam = resource["ipam"], let options = ipam["options"] {
                    ipam["options"] = toMapping(options, stringValues: true)
                    resource["ipam"] = ipam
                }
                pairs[i].value = resource
            }
            top.content = .mapping(pairs)
            doc[kind] = top
        }
        return doc
    }

    /// `KEY=VALUE` lists become mappings; bare `KEY` maps to null.
    static func toMapping(_ node: YAMLNode, stringValues: Bool) -> YAMLNode {
        switch node.content {
        case .sequence(let items):
            var result = YAMLNode(.mapping([]), mark: node.mark)
            var pairs: [YAMLPair] = []
            for item in items {
                guard let text = item.scalarText else { continue }
                let key: String, value: YAMLNode
                if let eq = text.firstIndex(of: "=") {
                    key = String(text[..<eq])
                    value = .string(String(text[text.index(after: eq)...]), mark: item.mark)
                } else {
                    key = text
                    value = .null(mark: item.mark)
                }
                let keyNode = YAMLNode.string(key, mark: item.mark)
                if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
                    pairs[index].value = value
                } else {
                    pairs.append(YAMLPair(key: keyNode, value: value))
                }
            }
            result.content = .mapping(pairs)
            return result
        case .mapping(var pairs):
            if stringValues {
                for i in pairs.indices where pairs[i].value.isScalar && !pairs[i].value.isNull {
                    pairs[i].value = .string(pairs[i].value.scalarText ?? "", mark: pairs[i].value.mark)
                }
            }
            var out = node
            out.content = .mapping(pairs)
            return out
        case .scalar:
            return node
        }
    }

    static func toList(_ node: YAMLNode) -> YAMLNode {
        if node.isScalar && !node.isNull { return YAMLNode(.sequence([node]), mark: node.mark) }
        return node
    }

    static func transformService(_ node: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        if node.isNull { return YAMLNode(.mapping([]), mark: node.mark) }
        guard node.isMapping else { return node }
        var s = node
        if let build = s["build"] {
            var b = build.isScalar ? YAMLNode.mapping([("context", build)], mark: build.mark) : build
            if let args = b["args"] { b["args"] = toMapping(args, stringValues: true) }
            if let labels = b["labels"] { b["labels"] = toMapping(labels, stringValues: true) }
            if let contexts = b["additional_contexts"] { b["additional_contexts"] = toMapping(contexts, stringValues: true) }
            if let hosts = b["extra_hosts"] { b["extra_hosts"] = extraHosts(hosts) }
            if let platforms = b["platforms"] { b["platforms"] = toList(platforms) }
            if let tags = b["tags"] { b["tags"] = toList(tags) }
            if let cache = b["cache_from"] { b["cache_from"] = toList(cache) }
            if let secrets = b["secrets"] { b["secrets"] = fileRefs(secrets) }
            s["build"] = b
        }
        for key in ["command", "entrypoint"] {
            if let value = s[key], value.isScalar, !value.isNull, let text = value.string {
                do {
                    s[key] = .sequence(try ShellWords.split(text).map { YAMLNode.string($0, mark: value.mark) }, mark: value.mark)
                } catch {
                    throw ComposeError(error.message, mark: value.mark, path: path.next(key).description)
                }
            }
        }
        if var health = s["healthcheck"], let test = health["test"], test.isScalar, let text = test.string {
            health["test"] = .sequence([.string("CMD-SHELL"), .string(text, mark: test.mark)], mark: test.mark)
            s["healthcheck"] = health
        }
        if let env = s["environment"] { s["environment"] = toMapping(env, stringValues: true) }
        for key in ["labels", "annotations", "sysctls"] {
            if let value = s[key] { s[key] = toMapping(value, stringValues: true) }
        }
        if var deploy = s["deploy"], let labels = deploy["labels"] {
            deploy["labels"] = toMapping(labels, stringValues: true)
            s["deploy"] = deploy
        }
        for key in ["dns", "dns_search", "dns_opt", "tmpfs", "label_file"] {
            if let value = s[key] { s[key] = toList(value) }
        }
        if let expose = s["expose"]?.sequence {
            s["expose"] = .sequence(expose.map { .string($0.scalarText ?? "", mark: $0.mark) })
        }
        if let hosts = s["extra_hosts"] { s["extra_hosts"] = extraHosts(hosts) }
        if let ports = s["ports"]?.sequence {
            var long: [YAMLNode] = []
            for (i, item) in ports.enumerated() {
                let itemPath = path.next("ports").next(i)
                switch item.content {
                case .scalar:
                    let text = item.scalarText ?? ""
                    do {
                        for p in try PortConfig.parseShort(text) { long.append(p.node.marked(item.mark)) }
                    } catch {
                        throw ComposeError(error.message, mark: item.mark, path: itemPath.description)
                    }
                case .mapping:
                    var p = item
                    if let published = p["published"], !published.isNull {
                        p["published"] = .string(published.scalarText ?? "", mark: published.mark)
                    }
                    if p["mode"] == nil { p["mode"] = .string("ingress") }
                    if p["protocol"] == nil { p["protocol"] = .string("tcp") }
                    long.append(p)
                case .sequence:
                    throw ComposeError("a port must be a number, a string or a mapping", mark: item.mark, path: itemPath.description)
                }
            }
            s["ports"] = .sequence(long, mark: s["ports"]?.mark ?? .none)
        }
        if let volumes = s["volumes"]?.sequence {
            var long: [YAMLNode] = []
            for (i, item) in volumes.enumerated() {
                if let text = item.string, item.isScalar {
                    do {
                        long.append(try VolumeSpec.parseShort(text).node.marked(item.mark))
                    } catch {
                        throw ComposeError(error.message, mark: item.mark, path: path.next("volumes").next(i).description)
                    }
                } else {
                    var v = item
                    if v["type"]?.string == "volume", v["volume"] == nil { v["volume"] = YAMLNode(.mapping([])) }
                    if v["type"]?.string == "bind", v["bind"] == nil {
                        v["bind"] = .mapping([("create_host_path", .bool(true))])
                    }
                    long.append(v)
                }
            }
            s["volumes"] = .sequence(long, mark: s["volumes"]?.mark ?? .none)
        }
        if let envFiles = s["env_file"] {
            let list = toList(envFiles).sequence ?? []
            s["env_file"] = .sequence(list.map { item in
                if item.isScalar { return .mapping([("path", item), ("required", .bool(true))], mark: item.mark) }
                var entry = item
                if entry["required"] == nil { entry["required"] = .bool(true) }
                return entry
            }, mark: envFiles.mark)
        }
        if let deps = s["depends_on"] {
            var mapping = ComposeMerge.toMapping(deps, defaults: ComposeMerge.dependsOnDefault)
            if var pairs = mapping.pairs {
                for i in pairs.indices {
                    var entry = pairs[i].value
                    if entry.isNull { entry = ComposeMerge.dependsOnDefault }
                    if entry["condition"] == nil { entry["condition"] = .string("service_started") }
                    if entry["required"] == nil { entry["required"] = .bool(true) }
                    pairs[i].value = entry
                }
                mapping.content = .mapping(pairs)
            }
            s["depends_on"] = mapping
        }
        if let networks = s["networks"], networks.isSequence {
            s["networks"] = ComposeMerge.toMapping(networks, defaults: nil)
        }
        for key in ["secrets", "configs"] {
            if let refs = s[key] { s[key] = fileRefs(refs) }
        }
        if let devices = s["devices"]?.sequence {
            s["devices"] = .sequence(devices.map { item in
                guard let text = item.string, item.isScalar else { return item }
                let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                var pairs: [(String, YAMLNode)] = [("source", .string(parts[0]))]
                pairs.append(("target", .string(parts.count > 1 ? parts[1] : parts[0])))
                pairs.append(("permissions", .string(parts.count > 2 ? parts[2] : "rwm")))
                return YAMLNode.mapping(pairs, mark: item.mark)
            }, mark: s["devices"]?.mark ?? .none)
        }
        return s
    }

    static func fileRefs(_ node: YAMLNode) -> YAMLNode {
        guard let items = node.sequence else { return node }
        return .sequence(items.map { item in
            item.isScalar ? .mapping([("source", item)], mark: item.mark) : item
        }, mark: node.mark)
    }

    static func extraHosts(_ node: YAMLNode) -> YAMLNode {
        switch node.content {
        case .mapping:
            return .sequence(ComposeMerge.toSequence(node), mark: node.mark)
        case .sequence(let items):
            return .sequence(items.map { item in
                // `host:ip` is the older separator; the IP part may itself hold colons (IPv6).
                guard let text = item.string, !text.contains("="), let colon = text.firstIndex(of: ":") else { return item }
                return .string(text[..<colon] + "=" + text[text.index(after: colon)...], mark: item.mark)
            }, mark: node.mark)
        case .scalar:
            return node
        }
    }

    // MARK: paths

    static func isLocalPath(_ s: String) -> Bool {
        !Paths.isRemote(s) && !s.hasPrefix("docker-image://") && !s.hasPrefix("service:") && !s.hasPrefix("oci-layout://")
    }

    static func resolvePaths(_ document: YAMLNode, base: String) -> YAMLNode {
        var doc = document
        if var services = doc["services"], var pairs = services.pairs {
            for i in pairs.indices { pairs[i].value = resolveServicePaths(pairs[i].value, base: base) }
            services.content = .mapping(pairs)
            doc["services"] = services
        }
        for kind in ["secrets", "configs"] {
            guard var top = doc[kind], var pairs = top.pairs else { continue }
            for i in pairs.indices {
                if let file = pairs[i].value["file"]?.string {
                    pairs[i].value["file"] = .string(Paths.absolute(file, base: base), mark: pairs[i].value["file"]?.mark ?? .none)
                }
            }
            top.content = .mapping(pairs)
            doc[kind] = top
        }
        return doc
    }

    static func resolveServicePaths(_ node: YAMLNode, base: String) -> YAMLNode {
        guard node.isMapping else { return node }
        var s = node
        if var build = s["build"], build.isMapping {
            if let context = build["context"]?.string, isLocalPath(context) {
                build["context"] = .string(Paths.absolute(context, base: base), mark: build["context"]?.mark ?? .none)
            }
            if var contexts = build["additional_contexts"], var pairs = contexts.pairs {
                for i in pairs.indices {
                    if let value = pairs[i].value.string, isLocalPath(value) {
                        pairs[i].value = .string(Paths.absolute(value, base: base), mark: pairs[i].value.mark)
                    }
                }
                contexts.content = .mapping(pairs)
                build["additional_contexts"] = contexts
            }
            s["build"] = build
        }
        if let volumes = s["volumes"]?.sequence {
            s["volumes"] = .sequence(volumes.map { v in
                guard v["type"]?.string == "bind", let source = v["source"]?.string else { return v }
                var out = v
                out["source"] = .string(Paths.absolute(source, base: base), mark: v["source"]?.mark ?? .none)
                return out
            }, mark: s["volumes"]?.mark ?? .none)
        }
        if let files = s["env_file"]?.sequence {
            s["env_file"] = .sequence(files.map { f in
                guard let p = f["path"]?.string else { return f }
                var out = f
                out["path"] = .string(Paths.absolute(p, base: base), mark: f["path"]?.mark ?? .none)
                return out
            }, mark: s["env_file"]?.mark ?? .none)
        }
        if let files = s["label_file"]?.sequence {
            s["label_file"] = .sequence(files.map { f in
                guard let p = f.string else { return f }
                return .string(Paths.absolute(p, base: base), mark: f.mark)
            })
        }
        return s
    }

    /// A service taken from another file by `extends`: its relative paths meant that file's folder.
    static func rebaseService(_ service: YAMLNode, from dir: String) -> YAMLNode {
        guard let canonical = try? transformService(service, TreePath(["services"])) else { return service }
        return resolveServicePaths(canonical, base: dir)
    }

    /// Reads each service's `env_file`s into its `environment` (explicit entries win).
    static func resolveEnvFiles(_ document: YAMLNode, lookup: (String) -> String?) throws(ComposeError) -> YAMLNode {
        guard var services = document["services"], var pairs = services.pairs else { return document }
        for i in pairs.indices {
            var s = pairs[i].value
            guard let files = s["env_file"]?.sequence, !files.isEmpty else { continue }
            var fromFiles: [(String, String)] = []
            var defined: [String: String] = [:]
            for (k, v) in (s["environment"]?.pairs ?? []).map({ ($0.key.scalarText ?? "", $0.value.string) }) {
                if let v { defined[k] = v }
            }
            for entry in files {
                guard let path = entry["path"]?.string else { continue }
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    if entry["required"]?.bool == false { continue }
                    throw ComposeError("env file \(path) not found", mark: entry.mark,
                                       path: "services.\(pairs[i].key.scalarText ?? "").env_file")
                }
                do {
                    for (k, v) in try DotEnv.parse(text, file: path, defined: defined, lookup: lookup) {
                        fromFiles.removeAll { $0.0 == k }
                        fromFiles.append((k, v))
                        defined[k] = v
                    }
                } catch {
                    throw ComposeError(error.description, mark: entry.mark,
                                       path: "services.\(pairs[i].key.scalarText ?? "").env_file")
                }
            }
            var env = s["environment"] ?? YAMLNode(.mapping([]))
            var merged: [YAMLPair] = fromFiles.map { YAMLPair(key: .string($0.0), value: .string($0.1)) }
            for pair in env.pairs ?? [] {
                if let index = merged.firstIndex(where: { $0.key.scalarText == pair.key.scalarText }) {
                    merged[index] = pair
                } else {
                    merged.append(pair)
                }
            }
            env.content = .mapping(merged)
            s["environment"] = env
            pairs[i].value = s
        }
        services.content = .mapping(pairs)
        var doc = document
        doc["services"] = services
        return doc
    }

    // MARK: output order

    static func sortedMapping(_ node: YAMLNode) -> YAMLNode {
        guard var pairs = node.pairs else { return node }
        pairs.sort { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }
        var out = node
        out.content = .mapping(pairs)
        return out
    }

    /// `docker compose config` order: name, services, networks, volumes, secrets, configs,
    /// then the rest; services, resources and service attributes sorted by name.
    static func ordered(_ document: YAMLNode) -> YAMLNode {
        guard let pairs = document.pairs else { return document }
        let head = ["name", "services", "networks", "volumes", "secrets", "configs", "models"]
        var result: [YAMLPair] = []
        for key in head {
            guard let pair = pairs.first(where: { $0.key.scalarText == key }) else { continue }
            var value = pair.value
            if key == "services", var services = value.pairs {
                for i in services.indices { services[i].value = sortedMapping(services[i].value) }
                value.content = .mapping(services)
            }
            if key != "name" { value = sortedMapping(value) }
            result.append(YAMLPair(key: pair.key, value: value))
        }
        result += pairs.filter { !head.contains($0.key.scalarText ?? "") }
        var out = document
        out.content = .mapping(result)
        return out
    }
}

extension YAMLNode {
    func marked(_ mark: Mark) -> YAMLNode {
        var out = self
        out.mark = mark
        return out
    }
}

/// POSIX-shell-like word splitting for string `command`/`entrypoint` (quotes and backslashes).
enum ShellWords {
    struct Failure: Error { var message: String }

    static func split(_ text: String) throws(ComposeError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                current.append(c); escaped = false; inWord = true; continue
            }
            if let q = quote {
                if c == q { quote = nil; continue }
                if c == "\\" && q == "\"" { escaped = true; continue }
                current.append(c)
                continue
            }
            switch c {
            case "\\": escaped = true; inWord = true
            case "\"", "'": quote = c; inWord = true
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current); current = ""; inWord = false }
            default:
                current.append(c); inWord = true
            }
        }
        if quote != nil { throw ComposeError("unterminated quote in \"\(text)\"") }
        if inWord { words.append(current) }
        return words
    }
}
