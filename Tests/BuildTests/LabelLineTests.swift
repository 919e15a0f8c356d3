import Testing
@testable import Build

@Suite struct LabelLineTests {
    @Test func labelsAreQuotedAndInsertedAtTheEndOfTheTargetStage() {
        let text = "FROM a AS one\nRUN x\nFROM b\n"
        let out = Builder.dockerfile(text, labels: ["z": "say \"hi\" to $HOME\\", "a": "1"], afterLine: 2, escape: "\\")
        #expect(out == "FROM a AS one\nRUN x\nLABEL \"a\"=\"1\" \"z\"=\"say \\\"hi\\\" to \\$HOME\\\\\"\nFROM b\n")
    }

    @Test func backtickEscapeAndMissingFinalNewline() {
        let out = Builder.dockerfile("# escape=`\nFROM a", labels: ["k": "C:\\x`$"], afterLine: 2, escape: "`")
        #expect(out == "# escape=`\nFROM a\nLABEL \"k\"=\"C:\\x```$\"\n")
    }
}
