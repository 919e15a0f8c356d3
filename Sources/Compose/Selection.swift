import BerthYAML

/// Profiles and explicit service selection.
enum Selection {
    /// Services without `profiles` are always active; others when one of their profiles is
    /// (`*` activates all). A service an active one depends on (`depends_on`, `links`,
    /// `network_mode: service:` …, all folded into `depends_on` by normalization) is activated too.
    static func apply(_ document: YAMLNode, profiles: [String], services selected: [String]) throws(ComposeError) -> YAMLNode {
        guard var services = document["services"], let pairs = services.pairs else { return document }
        let all = Dictionary(pairs.map { ($0.key.scalarText ?? "", $0.value) }, uniquingKeysWith: { a, _ in a })
        var active: Set<String> = []
        for pair in pairs {
            let name = pair.key.scalarText ?? ""
            let own = pair.value["profiles"]?.sequence?.compactMap(\.string) ?? []
            if own.isEmpty || profiles.contains("*") || own.contains(where: profiles.contains) { active.insert(name) }
        }
        var roots: [String]
        if selected.isEmpty {
            roots = Array(active)
        } else {
            for name in selected where all[name] == nil {
                throw ComposeError("no such service: \(name)")
            }
            roots = selected
            active = Set(selected)
        }
        var queue = roots
        while let name = queue.popLast() {
            for dep in all[name]?["depends_on"]?.pairs ?? [] {
                guard let depName = dep.key.scalarText else { continue }
                if dep.value["required"]?.bool == false && all[depName] == nil { continue }
                if all[depName] != nil, !active.contains(depName) {
                    active.insert(depName)
                    queue.append(depName)
                }
            }
        }
        services.content = .mapping(pairs.filter { active.contains($0.key.scalarText ?? "") })
        var doc = document
        doc["services"] = services
        return doc
    }
}

/// Checks that need the whole model: references and cycles.
enum Checks {
    static func validate(_ document: YAMLNode) throws(ComposeError) {
        let services = document["services"]?.pairs ?? []
        let names = Set(services.compactMap { $0.key.scalarText })
        func declared(_ kind: String) -> Set<String> { Set(document[kind]?.keys ?? []) }
        let networks = declared("networks"), volumes = declared("volumes")
        let secrets = declared("secrets"), configs = declared("configs")
        for pair in services {
            let name = pair.key.scalarText ?? ""
            let s = pair.value
            let base = TreePath(["services", name])
            if s["image"] == nil && s["build"] == nil && s["provider"] == nil {
                throw ComposeError("service \"\(name)\" has neither an image nor a build context specified",
                                   mark: pair.key.mark, path: base.description)
            }
            if let restart = s["restart"]?.string {
                let parts = restart.split(separator: ":", maxSplits: 1)
                let ok = ["no", "always", "unless-stopped"].contains(restart)
                    || (parts.first == "on-failure" && (parts.count == 1 || Int(parts[1]) != nil))
                if !ok {
                    throw ComposeError("\"\(restart)\" is not a restart policy (no, always, on-failure[:max-retries], unless-stopped)",
                                       mark: s["restart"]?.mark, path: base.next("restart").description)
                }
            }
            for dep in s["depends_on"]?.pairs ?? [] {
                let target = dep.key.scalarText ?? ""
                if !names.contains(target) && dep.value["required"]?.bool != false {
                    throw ComposeError("service \"\(name)\" depends on undefined service \"\(target)\"",
                                       mark: dep.key.mark, path: base.next("depends_on").description)
                }
            }
            for net in s["networks"]?.pairs ?? [] where !networks.contains(net.key.scalarText ?? "") {
                throw ComposeError("service \"\(name)\" refers to undefined network \"\(net.key.scalarText ?? "")\"",
                                   mark: net.key.mark, path: base.next("networks").description)
            }
            for (i, v) in (s["volumes"]?.sequence ?? []).enumerated() where v["type"]?.string == "volume" {
                if let source = v["source"]?.string, !volumes.contains(source) {
                    throw ComposeError("service \"\(name)\" refers to undefined volume \"\(source)\"",
                                       mark: v.mark, path: base.next("volumes").next(i).description)
                }
            }
            for (kind, set) in [("secrets", secrets), ("configs", configs)] {
                for (i, ref) in (s[kind]?.sequence ?? []).enumerated() {
                    if let source = ref["source"]?.string, !set.contains(source) {
                        throw ComposeError("service \"\(name)\" refers to undefined \(kind.dropLast()) \"\(source)\"",
                                           mark: ref.mark, path: base.next(kind).next(i).description)
                    }
                }
            }
        }
        // depends_on cycles
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ name: String) throws(ComposeError) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = stack[(stack.firstIndex(of: name) ?? 0)...] + [name]
                let s = document["services"]?[cycle.first ?? name]
                throw ComposeError("dependency cycle detected: \(cycle.joined(separator: " -> "))",
                                   mark: s?["depends_on"]?.mark ?? s?.mark, path: "services.\(cycle.first ?? name).depends_on")
            }
            state[name] = 1
            stack.append(name)
            for dep in document["services"]?[name]?["depends_on"]?.keys ?? [] where names.contains(dep) {
                try visit(dep)
            }
            stack.removeLast()
            state[name] = 2
        }
        for name in names.sorted() { try visit(name) }
    }
}
