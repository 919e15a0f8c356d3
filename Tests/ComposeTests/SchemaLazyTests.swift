import BerthYAML
import Foundation
import Testing
@testable import Compose
import TestSupport

/// The schema is compiled lazily, straight from its text: a node is read when validation
/// first reaches it. These tests hold it to what compiling the whole schema gives.
@Suite struct SchemaLazyTests {
    /// Documents reaching many parts of the schema, valid and not.
    static let documents: [String] = [
        "services:\n  web:\n    image: nginx\n",
        "services:\n  web:\n    image: 3\n",
        "services:\n  web:\n    imag: nginx\n",
        "services:\n  web:\n    image: nginx\n    ports: [\"80:80\", {target: 81, published: \"8081\", protocol: tcp}]\n",
        "services:\n  web:\n    ports: [{target: 81, bogus: 1}]\n",
        "services:\n  web:\n    ports: [[1]]\n",
        "services:\n  web:\n    volumes: [{type: bind, source: ., target: /x, bind: {propagation: rprivate}}]\n",
        "services:\n  web:\n    volumes: [{type: bind, source: ., target: /x, bind: {nope: 1}}]\n",
        "services:\n  web:\n    deploy: {replicas: 2, mode: global, resources: {limits: {cpus: \"0.5\", memory: 1g}}}\n",
        "services:\n  web:\n    deploy: {replicas: two}\n",
        "services:\n  web:\n    deploy: {restart_policy: {condition: sometimes, max_attempts: x}}\n",
        "services:\n  web:\n    healthcheck: {test: [\"CMD\", \"true\"], interval: 10s, retries: 3, start_period: 1s}\n",
        "services:\n  web:\n    healthcheck: {test: 5, bogus: true}\n",
        "services:\n  web:\n    build: {context: ., dockerfile: Dockerfile, args: {A: 1}, cache_from: [a]}\n",
        "services:\n  web:\n    build: {context: ., args: [1, [2]]}\n",
        "services:\n  web:\n    environment: {A: 1, B: null, C: [x]}\n",
        "services:\n  web:\n    environment: [A=1, B]\n",
        "services:\n  web:\n    environment: [A=1, A=1]\n",
        "services:\n  web:\n    command: [sh, -c, true]\n    entrypoint: {a: b}\n",
        "services:\n  web:\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: x\n",
        "services:\n  web:\n    depends_on: {db: {condition: maybe}}\n",
        "services:\n  web:\n    depends_on: [db, 3]\n",
        "services:\n  web:\n    pull_policy: every_12h\n",
        "services:\n  web:\n    pull_policy: sometimes\n",
        "services:\n  web:\n    networks: {front: {aliases: [a], ipv4_address: 10.0.0.2}}\nnetworks:\n  front: {driver: overlay, attachable: true, ipam: {config: [{subnet: 10.0.0.0/24}]}}\n",
        "services:\n  web:\n    networks: {front: {aliasez: [a]}}\n",
        "networks:\n  front: {external: {name: x}, labels: [a=b]}\n",
        "networks:\n  front: {driver_opts: {a: [1]}}\n",
        "volumes:\n  data: {driver: local, driver_opts: {type: none}, labels: {a: b}}\n",
        "volumes:\n  data: {driverr: local}\n",
        "secrets:\n  s: {file: ./s.txt}\nconfigs:\n  c: {content: hello}\nservices:\n  web:\n    secrets: [s, {source: s, target: /run/s, mode: 0400}]\n    configs: [c]\n",
        "secrets:\n  s: {file: 3, nope: x}\n",
        "services:\n  web:\n    secrets: [{source: s, mode: [1]}]\n",
        "services:\n  web:\n    ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}\n",
        "services:\n  web:\n    ulimits: {nofile: {soft: 1}}\n",
        "services:\n  web:\n    logging: {driver: json-file, options: {max-size: 10m}}\n    labels: {a: b}\n    x-custom: anything\n",
        "services:\n  web:\n    extra_hosts: [\"a:1.2.3.4\"]\n    dns: 8.8.8.8\n    cap_add: [NET_ADMIN, NET_ADMIN]\n",
        "services:\n  web:\n    develop: {watch: [{path: ., action: sync, target: /app}]}\n",
        "services:\n  web:\n    develop: {watch: [{path: ., action: teleport}]}\n",
        "services:\n  web:\n    blkio_config: {weight: 10, device_read_bps: [{path: /dev/sda, rate: 1mb}]}\n",
        "services:\n  web:\n    gpus: all\n    devices: [\"/dev/a:/dev/a\"]\n",
        "services:\n  bad name!:\n    image: x\n",
        "services: []\n",
        "include:\n  - a.yaml\n  - {path: [b.yaml], env_file: .env, project_directory: .}\n",
        "include:\n  - {paths: x}\n",
        "x-anything: {a: 1}\nname: demo\nservices: {}\n",
        "bogus: 1\n",
        "models:\n  m: {model: ai/x, context_size: 1024}\nservices:\n  web:\n    models: {m: {endpoint_var: X}}\n",
        "services:\n  web:\n    post_start: [{command: [echo], user: root}]\n    pre_stop: [{commandz: x}]\n",
        "services:\n  web:\n    stop_grace_period: 1s\n    deploy: {replicas: 1, labels: {dev.berth.test: \"1\"}}\n    labels: {dev.berth.test: \"1\"}\n",
        "services:\n  web:\n    sysctls: {net.core.somaxconn: 1024}\n    tmpfs: [/run]\n    shm_size: 64m\n    mem_limit: 1.5\n",
        "services:\n  web:\n    oom_score_adj: x\n",
    ]

    /// Every compose YAML of the conformance fixtures, plus `documents`.
    static func allDocuments() throws -> [(name: String, node: YAMLNode)] {
        var out: [(String, YAMLNode)] = []
        for (i, text) in documents.enumerated() {
            if let node = try YAML.parse(text, file: "doc\(i).yaml") { out.append(("doc\(i)", node)) }
        }
        let root = TestSupportPaths.fixture("")
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }
            .filter { ["yaml", "yml"].contains($0.pathExtension) }
            .sorted { $0.path < $1.path } ?? []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            guard let docs = try? YAML.parseAll(text, file: file.lastPathComponent) else { continue }
            for doc in docs where doc.isMapping { out.append((file.path, doc)) }
        }
        return out
    }

    static func outcome(_ validator: SchemaValidator, _ node: YAMLNode) -> String {
        do {
            try validator.validate(node)
            return "ok"
        } catch {
            return error.description
        }
    }

    @Test func lazyAndEagerCompilationGiveTheSameErrors() throws {
        let docs = try Self.allDocuments()
        #expect(docs.count > 200)
        let eager = SchemaValidator(text: composeSpecSchemaJSON)
        let all = eager.nodes.count
        // One lazy validator per document (compiled from scratch for it) and one shared by all.
        let shared = SchemaValidator(text: composeSpecSchemaJSON)
        var failures = 0
        for (name, doc) in docs {
            let expected = Self.outcome(eager, doc)
            #expect(Self.outcome(SchemaValidator(text: composeSpecSchemaJSON), doc) == expected, "\(name)")
            #expect(Self.outcome(shared, doc) == expected, "\(name)")
            if expected != "ok" { failures += 1 }
        }
        // The documents do reach errors, and a fresh validator compiles only part of the schema.
        #expect(failures > 20)
        let fresh = SchemaValidator(text: composeSpecSchemaJSON)
        _ = Self.outcome(fresh, try #require(try YAML.parse(Self.documents[0], file: "a.yaml")))
        #expect(fresh.schema.compiledCount < all / 4)
        #expect(eager.nodes.count == all)
    }

    @Test func concurrentFirstUseAgrees() async throws {
        let docs = try Self.allDocuments().map(\.node)
        let eager = SchemaValidator(text: composeSpecSchemaJSON)
        let expected = docs.map { Self.outcome(eager, $0) }
        let shared = SchemaValidator(text: composeSpecSchemaJSON)
        let results = await withTaskGroup(of: (Int, [String]).self) { group in
            for t in 0..<4 {
                group.addTask {
                    // Each task walks the documents from a different start, so they race to compile.
                    let order = Array(docs.indices.dropFirst(t * docs.count / 4)) + Array(docs.indices.prefix(t * docs.count / 4))
                    var out = Array(repeating: "", count: docs.count)
                    for i in order { out[i] = Self.outcome(shared, docs[i]) }
                    return (t, out)
                }
            }
            var all: [[String]] = []
            for await (_, out) in group { all.append(out) }
            return all
        }
        #expect(results.count == 4)
        for out in results { #expect(out == expected) }
    }

    // MARK: compiled nodes against the schema as Foundation reads it

    /// A node's keywords, its sub-schemas rendered to `depth`.
    static func render(_ v: SchemaValidator, _ index: Int, _ depth: Int) -> String {
        guard depth > 0 else { return "…" }
        let n = v.schema.node(index)
        func sub(_ i: Int) -> String { render(v, i, depth - 1) }
        var out = "c=\(n.constant.map(String.init) ?? "-") t=\(n.types) e=\(n.enumValues ?? ["-"]) p=\(n.pattern?.source ?? "-")"
        out += " r=\(n.required) u=\(n.uniqueItems)"
        switch n.additional {
        case .allowed: out += " a=allowed"
        case .forbidden: out += " a=forbidden"
        case .schema(let i): out += " a=(\(sub(i)))"
        }
        out += " props={" + n.properties.keys.sorted().map { "\($0):(\(sub(n.properties[$0] ?? -1)))" }.joined(separator: ",") + "}"
        out += " pp=[" + n.patternProperties.map { "\($0.0.source):(\(sub($0.1)))" }.joined(separator: ",") + "]"
        out += " br=" + (n.branches.map { "[" + $0.map { "(\(sub($0)))" }.joined(separator: ",") + "]" } ?? "-")
        out += " all=[" + n.allOf.map { "(\(sub($0)))" }.joined(separator: ",") + "]"
        out += " items=" + (n.items.map { "(\(sub($0)))" } ?? "-")
        return out
    }

    /// The same rendering, from the schema as JSONSerialization parses it.
    static func render(_ schema: Any, root: [String: Any], _ depth: Int) -> String {
        guard depth > 0 else { return "…" }
        var schema = schema
        while let object = schema as? [String: Any], let ref = object["$ref"] as? String, ref.hasPrefix("#/") {
            var node: Any = root
            for part in ref.dropFirst(2).split(separator: "/") {
                guard let next = (node as? [String: Any])?[String(part)] else { break }
                node = next
            }
            schema = node
        }
        func sub(_ s: Any) -> String { render(s, root: root, depth - 1) }
        func isBool(_ a: Any?) -> Bool? {
            guard let n = a as? NSNumber, String(cString: n.objCType) == "c" else { return nil }
            return n.boolValue
        }
        let object = schema as? [String: Any] ?? [:]
        let constant = isBool(schema).map(String.init) ?? "-"
        let types = (object["type"] as? String).map { [$0] } ?? (object["type"] as? [Any])?.compactMap { $0 as? String } ?? []
        let enumValues = (object["enum"] as? [Any])?.compactMap { v -> String? in
            if let s = v as? String { return s }
            if let b = isBool(v) { return String(b) }
            if let n = v as? NSNumber { let d = n.doubleValue; return d == d.rounded() ? String(Int(d)) : String(d) }
            return nil
        }
        var out = "c=\(constant) t=\(types) e=\(enumValues ?? ["-"]) p=\(object["pattern"] as? String ?? "-")"
        out += " r=\((object["required"] as? [Any])?.compactMap { $0 as? String } ?? []) u=\(isBool(object["uniqueItems"]) == true)"
        if isBool(object["additionalProperties"]) == false {
            out += " a=forbidden"
        } else if let a = object["additionalProperties"] as? [String: Any] {
            out += " a=(\(sub(a)))"
        } else {
            out += " a=allowed"
        }
        let props = object["properties"] as? [String: Any] ?? [:]
        out += " props={" + props.keys.sorted().map { "\($0):(\(sub(props[$0] ?? 0)))" }.joined(separator: ",") + "}"
        let pp = object["patternProperties"] as? [String: Any] ?? [:]
        out += " pp=[" + pp.keys.sorted().map { "\($0):(\(sub(pp[$0] ?? 0)))" }.joined(separator: ",") + "]"
        let branches = object["oneOf"] as? [Any] ?? object["anyOf"] as? [Any]
        out += " br=" + (branches.map { "[" + $0.map { "(\(sub($0)))" }.joined(separator: ",") + "]" } ?? "-")
        out += " all=[" + (object["allOf"] as? [Any] ?? []).map { "(\(sub($0)))" }.joined(separator: ",") + "]"
        out += " items=" + (object["items"].map { "(\(sub($0)))" } ?? "-")
        return out
    }

    @Test func compiledNodesMatchTheSchemaAsFoundationReadsIt() throws {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(composeSpecSchemaJSON.utf8)) as? [String: Any])
        let lazy = SchemaValidator(text: composeSpecSchemaJSON)
        let ours = Self.render(lazy, lazy.root, 9)
        #expect(ours == Self.render(root, root: root, 9))
        #expect(ours.count > 50_000)
        #expect(ours.contains("p=[a-zA-Z0-9][a-zA-Z0-9_.-]+"))
    }

    @Test func readsKeywordsOfOddSchemas() throws {
        // Later duplicate keys win, escapes are decoded, `$ref` siblings are ignored, a `$ref`
        // that cannot be followed leaves the schema as it is, and non-object schemas accept all.
        let text = #"""
        {"type": "object", "properties": {
          "a": {"type": "string", "type": "integer"},
          "b": {"$ref": "#/$defs/x", "type": "integer"},
          "c": {"$ref": "#/$defs/missing", "type": "boolean"},
          "d": {"enum": ["x\"y", 2, 2.5, true, null]},
          "e": 12,
          "f": {"$ref": "#/$defs/y"},
          "g": false
        }, "additionalProperties": false,
        "$defs": {"x": {"type": "string"}, "y": {"$ref": "#/$defs/x"}}}
        """#
        let v = SchemaValidator(text: text)
        func check(_ yaml: String) throws -> String { Self.outcome(v, try #require(try YAML.parse(yaml, file: "t.yaml"))) }
        #expect(try check("a: 1") == "ok")
        #expect(try check("a: x") == "t.yaml:1:4: a: must be an integer, not a string")
        #expect(try check("b: x") == "ok")
        #expect(try check("b: 1") == "t.yaml:1:4: b: must be a string, not an integer")
        #expect(try check("c: 1") == "t.yaml:1:4: c: must be a boolean, not an integer")
        #expect(try check("d: 2") == "ok")
        #expect(try check(#"d: 'x"y'"#) == "ok")
        #expect(try check("d: 3") == #"t.yaml:1:4: d: "3" must be one of: x"y, 2, 2.5, true"#)
        #expect(try check("e: [1]") == "ok")
        #expect(try check("f: 1") == "t.yaml:1:4: f: must be a string, not an integer")
        #expect(try check("g: 1") == "t.yaml:1:1: g: is not allowed")
        #expect(try check("h: 1") == #"t.yaml:1:1: additional property "h" is not allowed"#)
        #expect(v.nodes.count == 8)
    }
}
