import Testing
@testable import Dockerfile

@Suite struct InstructionTests {
    @Test func parsesTypedCommandsWithLines() throws {
        let text = """
        # syntax=docker/dockerfile:1
        # check=skip=all
        ARG BASE=debian
        FROM --platform=linux/amd64 ${BASE}:12 AS Build
        ENV A=1 B="two words"
        ENV LEGACY some value
        LABEL org.opencontainers.image.title="x"
        RUN apt-get update && \\
            apt-get install -y make
        COPY --chown=1:1 --from=deps /out /app
        HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD ["curl", "-f", "http://localhost/"]
        ONBUILD RUN make
        CMD ["/app/run"]
        """
        let df = try Dockerfile.parse(text)
        #expect(df.directives == ["syntax": "docker/dockerfile:1", "check": "skip=all"])
        #expect(df.instructions.map(\.line) == [3, 4, 5, 6, 7, 8, 10, 11, 12, 13])
        #expect(df.instructions[5].endLine == 9)
        guard case .from(let from) = df.instructions[1].command else { Issue.record("not FROM"); return }
        #expect(from == FromCommand(image: "${BASE}:12", stageName: "build", platform: "linux/amd64"))
        guard case .env(let env) = df.instructions[2].command else { Issue.record("not ENV"); return }
        #expect(env == [KeyValue(key: "A", value: "1"), KeyValue(key: "B", value: "\"two words\"")])
        #expect(try df.lexer.processWord(env[1].value, env: [:]) == "two words")
        guard case .env(let legacy) = df.instructions[3].command else { Issue.record("not ENV"); return }
        #expect(legacy == [KeyValue(key: "LEGACY", value: "some value")])
        guard case .run(let run) = df.instructions[5].command else { Issue.record("not RUN"); return }
        #expect(run.command == .shell("apt-get update &&     apt-get install -y make"))
        guard case .copy(let copy) = df.instructions[6].command else { Issue.record("not COPY"); return }
        #expect(copy.from == "deps" && copy.chown == "1:1" && copy.sources == ["/out"] && copy.destination == "/app")
        guard case .healthcheck(let hc) = df.instructions[7].command else { Issue.record("not HEALTHCHECK"); return }
        #expect(hc.test == .exec(["curl", "-f", "http://localhost/"]))
        #expect(hc.interval == .seconds(30) && hc.timeout == .seconds(90) && hc.retries == 3)
        guard case .onbuild(let trigger) = df.instructions[8].command,
              case .run(let inner) = trigger.command else { Issue.record("not ONBUILD RUN"); return }
        #expect(inner.command == .shell("make"))
        #expect(df.instructions[9].command == .cmd(.exec(["/app/run"])))
    }

    @Test func healthcheckNone() throws {
        let df = try Dockerfile.parse("FROM a\nHEALTHCHECK NONE\n")
        #expect(df.instructions[1].command == .healthcheck(HealthcheckCommand(test: nil)))
    }

    @Test func escapeDirectiveChangesContinuation() throws {
        let df = try Dockerfile.parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n")
        #expect(df.escapeToken == "`")
        #expect(df.instructions[1].command == .run(RunCommand(command: .shell("dir c:\\   /w"), mounts: [],
                                                                 network: nil, security: nil, heredocs: [])))
    }

    @Test func heredocBodiesAreConsumed() throws {
        let text = "FROM a\nRUN <<EOF\necho hi\nFROM b\nEOF\nCOPY <<-\"CONF\" /etc/x.conf\n\tkey=$v\n\tCONF\nCMD x\n"
        let df = try Dockerfile.parse(text)
        #expect(df.instructions.map(\.keyword) == ["from", "run", "copy", "cmd"])
        let run = df.instructions[1]
        #expect(run.heredocs == [Heredoc(name: "EOF", fileDescriptor: 0, expand: true, chomp: false, content: "echo hi\nFROM b\n")])
        #expect(run.line == 2 && run.endLine == 5)
        let copy = df.instructions[2]
        #expect(copy.heredocs.first?.name == "CONF")
        #expect(copy.heredocs.first?.expand == false)
        #expect(copy.heredocs.first?.chomp == true)
        #expect(df.instructions[3].line == 9)
    }

    @Test func unterminatedHeredoc() {
        let error = #expect(throws: DockerfileError.self) { try Dockerfile.parse("FROM a\nRUN <<EOF\necho\n") }
        #expect(error?.description.hasPrefix("Dockerfile:2: unterminated heredoc <<EOF") == true)
    }

    @Test(arguments: [
        ("FROM a\nRUNN echo\n", "Dockerfile:2: unknown instruction: RUNN", "Did you mean RUN?"),
        ("FROM a\nENV PATH\n", "Dockerfile:2: ENV must have two arguments", nil),
        ("FROM a\nCOPY --form=x a b\n", "Dockerfile:2: unknown flag: --form on COPY", "--from"),
        ("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments", nil),
        ("RUN echo\nFROM a\n", "Dockerfile:1: no build stage in current context", "only ARG"),
        ("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments", nil),
        ("FROM a AS 1x\n", "Dockerfile:1: invalid name for build stage", nil),
        ("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD", nil),
        ("FROM a\nHEALTHCHECK --interval=1us CMD x\n", "Dockerfile:2: Interval \"interval\" cannot be less than 1ms", nil),
        ("FROM a\nHEALTHCHECK PING x\n", "Dockerfile:2: Unknown type \"PING\" in HEALTHCHECK (try CMD)", nil),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD", nil),
        ("FROM a\nONBUILD FROM b\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger", nil),
        ("FROM a\nSHELL /bin/bash -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form", nil),
        ("FROM a\nCMD [\"a\", 1]\n", "Dockerfile:2: when using JSON array syntax", nil),
        ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x'", nil),
        ("# escape=\\\n# escape=`\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used", nil),
        ("FROM a\nCOPY --link=maybe a b\n", "Dockerfile:2: expecting boolean value for flag --link", nil),
        ("FROM a\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from", nil),
        ("\n\n# only a comment\n", "Dockerfile:3: file with no instructions", nil),
    ] as [(String, String, String?)])
    func badDockerfilesSayWhereAndWhat(_ text: String, _ prefix: String, _ hint: String?) {
        let error = #expect(throws: DockerfileError.self) { try Dockerfile.parse(text) }
        let description = error?.description ?? ""
        #expect(description.hasPrefix(prefix), "\(description)")
        if let hint { #expect(description.contains(hint), "\(description)") }
        #expect(error?.hint != nil)
    }

    @Test func fileNameAppearsInErrors() {
        let error = #expect(throws: DockerfileError.self) {
            try Dockerfile.parse("FROM a\nFOO\n", file: "apps/web/Dockerfile.dev")
        }
        #expect(error?.description.hasPrefix("apps/web/Dockerfile.dev:2: unknown instruction: FOO") == true)
    }

    @Test func goDurations() {
        #expect(parseGoDuration("1h2m3.5s") == .seconds(3723) + .milliseconds(500))
        #expect(parseGoDuration("250ms") == .milliseconds(250))
        #expect(parseGoDuration("0") == .zero)
        #expect(parseGoDuration("5") == nil)
        #expect(parseGoDuration("s") == nil)
    }

    @Test func lexerPatternModifiers() throws {
        let lexer = ShellLex()
        let env = ["F": "archive.tar.gz", "P": "/usr/local/bin"]
        #expect(try lexer.processWord("${F%.*}", env: env) == "archive.tar")
        #expect(try lexer.processWord("${F%%.*}", env: env) == "archive")
        #expect(try lexer.processWord("${P#*/}", env: env) == "usr/local/bin")
        #expect(try lexer.processWord("${P##*/}", env: env) == "bin")
        #expect(try lexer.processWord("${P/local/opt}", env: env) == "/usr/opt/bin")
        #expect(try lexer.processWord("${P//\\//:}", env: env) == ":usr:local:bin")
        #expect(try lexer.processWord("${X-def}${F-no}", env: env) == "defarchive.tar.gz")
        #expect(throws: DockerfileError.self) { try lexer.processWord("${X?must be set}", env: env) }
        let skipping = { var l = ShellLex(); l.skipUnsetEnv = true; return l }()
        #expect(try skipping.processWord("$A ${B} ${C:-x}", env: [:]) == "$A ${B} ${C:-x}")
    }
}
