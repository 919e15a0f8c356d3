import Testing
@testable import Interpolation

@Suite struct DotEnvTests {
    func keys(_ pairs: [(key: String, value: String)]) -> [String] { pairs.map(\.key) }
    func values(_ pairs: [(key: String, value: String)]) -> [String] { pairs.map(\.value) }

    @Test func keepsOrderAndLastValueOfRepeatedKeys() throws {
        let pairs = try DotEnv.parse("A=1\nB=2\nA=3\n")
        #expect(keys(pairs) == ["A", "B"])
        #expect(values(pairs) == ["3", "2"])
    }

    @Test func blankLinesCommentsAndCRLF() throws {
        let pairs = try DotEnv.parse("# c\r\n\r\nA=1\r\n  # indented comment\r\nB='x' # note\r\nC=\"y\"\r\n\r\n")
        #expect(keys(pairs) == ["A", "B", "C"])
        #expect(values(pairs) == ["1", "x", "y"])
    }

    @Test func inlineCommentNeedsASpaceBefore() throws {
        #expect(values(try DotEnv.parse("A=b#c")) == ["b#c"])
        #expect(values(try DotEnv.parse("A=b #c")) == ["b"])
        #expect(values(try DotEnv.parse("A=b\t#c")) == ["b\t#c"])
    }

    @Test func lookupComesBeforeEarlierKeysThenDefined() throws {
        let pairs = try DotEnv.parse(
            "B=${A}\nA=2\nC=${A}\nD=$ENV\nE=${X:-$A}", defined: ["A": "0", "X": ""],
            lookup: { $0 == "ENV" ? "env" : nil })
        #expect(keys(pairs) == ["B", "A", "C", "D", "E"])
        #expect(values(pairs) == ["0", "2", "2", "env", "2"])
        let overridden = try DotEnv.parse("A=1\nB=$A", lookup: { $0 == "A" ? "outer" : nil })
        #expect(values(overridden) == ["1", "outer"])
    }

    @Test func bareKeyAsksOnlyTheLookup() throws {
        #expect(try DotEnv.parse("A\n", defined: ["A": "x"]).isEmpty)
        #expect(values(try DotEnv.parse("A\nB\n", lookup: { $0 == "B" ? "b" : nil })) == ["b"])
    }

    @Test func singleQuotesAreLiteral() throws {
        #expect(values(try DotEnv.parse("A='$HOME \\n \\$x'", lookup: { _ in "h" })) == ["$HOME \\n \\$x"])
    }

    @Test func doubleQuoteEscapes() throws {
        #expect(values(try DotEnv.parse("A=\"x\\$y $$z\"")) == ["x$y $z"])
        #expect(values(try DotEnv.parse("A=\"\\c\\q\\'\"")) == ["\\c\\q\\'"])
        // compose-go turns `\0` into `\` before reading an octal value and keeps that text
        // when the value is not three octal digits up to 0377.
        #expect(values(try DotEnv.parse("A=\"\\0|\\012|\\089|\\0101|\\0400\"")) == ["\\|\\12|\\89|A|\\400"])
    }

    @Test func multiLineValues() throws {
        let pairs = try DotEnv.parse("A=\"one\ntwo\"\nB='three\nfour'\nC=5")
        #expect(values(pairs) == ["one\ntwo", "three\nfour", "5"])
    }

    @Test func backticksAreNotQuotes() throws {
        #expect(values(try DotEnv.parse("A=`x`")) == ["`x`"])
    }

    @Test func utf8ByteOrderMarkIsSkipped() throws {
        #expect(keys(try DotEnv.parse("\u{FEFF}A=1")) == ["A"])
    }

    @Test func unterminatedQuoteReportsTheLastLineScanned() throws {
        let error = try #require(throws: DotEnvError.self) {
            try DotEnv.parse("A=1\nB=\"x\n\nC=3", file: "app/.env")
        }
        #expect(error.line == 4)
        #expect(error.composeMessage == "line 4: unterminated quoted value \"x")
        #expect(error.description.hasPrefix("app/.env:4: unterminated quoted value \"x"))
    }

    @Test func badKeyCharacter() throws {
        let error = try #require(throws: DotEnvError.self) {
            try DotEnv.parse("A=1\n\nlol$wut=2\n", file: "x.env")
        }
        #expect(error.line == 3)
        #expect(error.message == "unexpected character \"$\" in variable name \"lol$wut=2\"")
        #expect(error.description.hasPrefix("x.env:3: unexpected character"))
    }

    @Test func keyWithSpace() throws {
        let error = try #require(throws: DotEnvError.self) { try DotEnv.parse("A B=1") }
        #expect(error.composeMessage == "line 1: key cannot contain a space")
        #expect(error.description.hasPrefix(".env:1: key cannot contain a space"))
    }

    @Test func interpolationErrorCarriesTheLine() throws {
        let error = try #require(throws: DotEnvError.self) {
            try DotEnv.parse("A=1\nB=${NOPE:?need it}\n", file: "s.env")
        }
        #expect(error.line == 2)
        #expect(error.interpolation?.kind == .missingRequired)
        #expect(error.interpolation?.variable == "NOPE")
        #expect(error.description.hasPrefix("s.env:2: required variable NOPE is missing a value: need it"))
        let invalid = try #require(throws: DotEnvError.self) { try DotEnv.parse("\n\nC=\"${ x}\"") }
        #expect(invalid.line == 3)
        #expect(invalid.interpolation?.kind == .invalidTemplate)
    }

    @Test func composeGoQuirksAtEndOfFile() throws {
        // Without `=`, `:` or a newline before the end of the file, compose-go reads the text
        // as the value of an empty key.
        let pairs = try DotEnv.parse("A=1\nFOO")
        #expect(keys(pairs) == ["A", ""])
        #expect(values(pairs) == ["1", "FOO"])
        let error = try #require(throws: DotEnvError.self) { try DotEnv.parse("export  ") }
        #expect(error.line == nil)
        #expect(error.composeMessage == "zero length string")
    }

    @Test func multipleFilesShareValues() throws {
        let pairs = try DotEnv.parse(
            files: [(file: "a.env", text: "A=1\nB=x\n"), (file: "b.env", text: "B=$A\nC\nA=2\nD=$A")],
            environment: { $0 == "C" ? "env" : nil })
        #expect(keys(pairs) == ["A", "B", "C", "D"])
        #expect(values(pairs) == ["2", "1", "env", "2"])
    }

    @Test func errorInSecondFileNamesIt() throws {
        let error = try #require(throws: DotEnvError.self) {
            try DotEnv.parse(files: [(file: "a.env", text: "A=1"), (file: "b.env", text: "A=1\nB='")], environment: { _ in nil })
        }
        #expect(error.file == "b.env")
        #expect(error.line == 2)
    }
}
