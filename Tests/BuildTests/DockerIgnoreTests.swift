import Testing
@testable import Build

@Suite struct DockerIgnoreTests {
    func ignore(_ text: String) throws -> DockerIgnore { try DockerIgnore(fileText: text) }

    @Test func normalizesLikeDocker() {
        let lines = DockerIgnore.lines(of: "\u{FEFF}# comment\n  *.log  \n\n/abs/path\n! keep.log\na/../b/./c/\n #notcomment\n")
        #expect(lines == ["*.log", "abs/path", "!keep.log", "b/c", "#notcomment"])
    }

    @Test(arguments: [
        ("*.go", "main.go", true), ("*.go", "cmd/main.go", false),
        ("**/*.go", "main.go", true), ("**/*.go", "a/b/main.go", true), ("**/*.go", "a/b/main.c", false),
        ("docs", "docs", true), ("docs", "docs/a/b.md", true), ("docs", "docsx", false),
        ("foo/**", "foo/x/y", true), ("foo/**", "foo", false),
        ("**", "anything/at/all", true),
        ("?at", "cat", true), ("?at", "c/t", false), ("?at", "at", false),
        ("[ab].txt", "a.txt", true), ("[ab].txt", "c.txt", false), ("[^ab].txt", "c.txt", true),
        ("[a-c]*", "bz", true),
        ("a**b", "ab", true), ("a**b", "ax/b", true),
        ("**/node_modules", "node_modules", true), ("**/node_modules", "web/node_modules/x", true),
        ("a/*/c", "a/b/c", true), ("a/*/c", "a/b/x/c", false),
        ("*.(x)", "f.(x)", true), ("\\*", "*", true), ("\\*", "a", false),
    ] as [(String, String, Bool)])
    func singlePattern(_ pattern: String, _ path: String, _ excluded: Bool) throws {
        #expect(try ignore(pattern).excludes(path) == excluded, "\(pattern) vs \(path)")
    }

    @Test func exceptionsAndLastMatchWins() throws {
        let i = try ignore("*.md\n!README.md\ndocs\n!docs/keep.md\nREADME.md\n")
        #expect(i.excludes("CHANGES.md"))
        #expect(i.excludes("README.md"))
        #expect(i.excludes("docs/x.md"))
        #expect(!i.excludes("docs/keep.md"))
        #expect(!i.excludes("main.c"))
        #expect(i.hasExceptions)
        #expect(i.mayReinclude(below: "docs"))
        #expect(!i.mayReinclude(below: "src"))
        let everything = try ignore("*\n!src\n")
        #expect(!everything.excludes("src/a/b.c"))
        #expect(everything.excludes("Makefile"))
    }

    @Test func badPatternsAreReported() {
        let e1 = #expect(throws: BuildContextError.self) { try ignore("ok\n[abc\n") }
        #expect(e1?.description.hasPrefix(".dockerignore pattern 2: syntax error in pattern \"[abc\"") == true)
        let e2 = #expect(throws: BuildContextError.self) { try ignore("!\n") }
        #expect(e2?.description.contains("illegal exclusion pattern") == true)
    }
}
