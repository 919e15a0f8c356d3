import Testing
@testable import BerthYAML

@Suite struct ParserTests {
    @Test func marksAreOneBased() throws {
        let doc = try #require(try YAML.parse("services:\n  web:\n    image: nginx\n", file: "compose.yaml"))
        let image = try #require(doc["services"]?["web"]?["image"])
        #expect(image.string == "nginx")
        #expect(image.mark == Mark(file: "compose.yaml", line: 3, column: 12))
        #expect(doc["services"]?.mark.line == 2)
    }

    @Test func mappingKeepsOrder() throws {
        let doc = try #require(try YAML.parse("b: 1\na: 2\nc: 3\n"))
        #expect(doc.keys == ["b", "a", "c"])
    }

    @Test func scalarResolution() throws {
        let doc = try #require(try YAML.parse("""
            a: 1
            b: "1"
            c: true
            d: ~
            e: 1.5
            f: 0x1F
            g: yes
            h:
            i: 0755
            j: 1e3
            k: -.inf
            l: !!str 12
            """))
        #expect(doc["a"]?.value == .int(1))
        #expect(doc["b"]?.value == .string("1"))
        #expect(doc["c"]?.value == .bool(true))
        #expect(doc["d"]?.value == .null)
        #expect(doc["e"]?.value == .float(1.5))
        #expect(doc["f"]?.value == .int(31))
        #expect(doc["g"]?.value == .string("yes"))
        #expect(doc["h"]?.isNull == true)
        #expect(doc["i"]?.value == .int(755))
        #expect(doc["j"]?.value == .float(1000))
        #expect(doc["k"]?.value == .float(-.infinity))
        #expect(doc["l"]?.value == .string("12"))
        #expect(doc["a"]?.scalarText == "1")
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let doc = try #require(try YAML.parse("""
            x-base: &base
              image: busybox
              restart: always
            x-more: &more
              tty: true
              restart: "no"
            services:
              a:
                <<: *base
                restart: unless-stopped
              b:
                <<: [*more, *base]
              c: *base
            """))
        let a = try #require(doc["services"]?["a"])
        #expect(a["image"]?.string == "busybox")
        #expect(a["restart"]?.string == "unless-stopped")
        #expect(a.keys == ["image", "restart"])
        let b = try #require(doc["services"]?["b"])
        #expect(b["restart"]?.string == "no")
        #expect(b["tty"]?.bool == true)
        #expect(b["image"]?.string == "busybox")
        #expect(doc["services"]?["c"]?["image"]?.string == "busybox")
    }

    @Test func customTagsArePreserved() throws {
        let doc = try #require(try YAML.parse("ports: !reset []\nenv: !override\n  - A=1\n"))
        #expect(doc["ports"]?.tag == "!reset")
        #expect(doc["env"]?.tag == "!override")
        #expect(doc["env"]?.sequence?.count == 1)
    }

    @Test func duplicateKeysNameBothPositions() throws {
        #expect {
            _ = try YAML.parse("a: 1\nb: 2\na: 3\n", file: "f.yaml")
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("f.yaml:3:1:") && text.contains("f.yaml:1:1")
        }
    }

    @Test func duplicateKeysInLargeMappings() throws {
        // Past 16 keys the parser switches from scanning to an index; both must catch repeats,
        // including ones of keys seen before the switch.
        let keys = (1...40).map { "k\($0): \($0)" }
        let unique = keys.joined(separator: "\n") + "\n"
        #expect(try YAML.parse(unique)?.keys.count == 40)
        for (repeated, line) in [("k3", 41), ("k30", 41)] {
            #expect {
                _ = try YAML.parse(unique + "\(repeated): x\n", file: "big.yaml")
            } throws: { error in
                let text = String(describing: error)
                return text.hasPrefix("big.yaml:\(line):1:") && text.contains("\"\(repeated)\"")
            }
        }
        let merged = try YAML.parse("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n" + (1...20).map { "  x\($0): \($0)" }.joined(separator: "\n") + "\n  a: 9\n")
        #expect(merged?["m"]?["a"]?.int == 9)
        #expect(merged?["m"]?["b"]?.int == 2)
    }

    @Test func syntaxErrorsAreLocated() throws {
        #expect {
            _ = try YAML.parse("a: [1, 2\nb: 3\n", file: "bad.yaml")
        } throws: { error in
            String(describing: error).hasPrefix("bad.yaml:")
        }
    }

    @Test func unknownAliasIsAnError() throws {
        #expect(throws: YAMLError.self) { _ = try YAML.parse("a: *nope\n") }
    }

    @Test func aliasBombIsRefusedQuickly() throws {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        let clock = ContinuousClock()
        let start = clock.now
        #expect {
            _ = try YAML.parse(text, file: "bomb.yaml")
        } throws: { error in
            String(describing: error).contains("alias bomb")
        }
        #expect(clock.now - start < .seconds(5))
    }

    @Test func multipleDocuments() throws {
        let docs = try YAML.parseAll("a: 1\n---\nb: 2\n")
        #expect(docs.count == 2)
        #expect(docs[1]["b"]?.int == 2)
        #expect(try YAML.parseAll("").isEmpty)
    }
}

@Suite struct EmitterTests {
    @Test func roundTripKeepsTypes() throws {
        let source = """
            name: demo
            services:
              web:
                image: "nginx:1.25"
                ports:
                - "80"
                - 443
                tty: true
                empty: ""
                version: "1.0"
                flag: "true"
                nothing: null
                script: |
                  echo one
                  echo two
            """
        let doc = try #require(try YAML.parse(source))
        let text = try YAML.emit(doc)
        let again = try #require(try YAML.parse(text))
        #expect(again == doc || again["services"]?["web"]?["ports"]?.sequence?[0].value == .string("80"))
        let web = try #require(again["services"]?["web"])
        #expect(web["ports"]?.sequence?[0].value == .string("80"))
        #expect(web["ports"]?.sequence?[1].value == .int(443))
        #expect(web["empty"]?.value == .string(""))
        #expect(web["version"]?.value == .string("1.0"))
        #expect(web["flag"]?.value == .string("true"))
        #expect(web["nothing"]?.isNull == true)
        #expect(web["script"]?.string == "echo one\necho two")
        #expect(text.contains("name: demo\n"))
    }

    @Test func emitsCustomTagsAndBuiltNodes() throws {
        let node = YAMLNode.mapping([
            ("a", .string("1")),
            ("b", YAMLNode(.sequence([]), tag: "!reset")),
            ("c", .int(3)),
        ])
        let text = try YAML.emit(node)
        #expect(text.contains("a: \"1\""))
        #expect(text.contains("!reset"))
        let back = try #require(try YAML.parse(text))
        #expect(back["b"]?.tag == "!reset")
        #expect(back["c"]?.int == 3)
    }
}
