import Testing
@testable import Dockerfile

@Suite struct ClassicBuilderTests {
    @Test func findsEveryBuildKitOnlyConstruct() throws {
        let text = """
        FROM debian:12 AS build
        RUN <<EOF
        apt-get update
        EOF
        RUN --mount=type=cache,target=/var/cache/apt apt-get update
        RUN --network=none make
        RUN --security=insecure make
        COPY --chmod=755 run.sh /
        ADD --chmod=644 a /a
        COPY --link . /src
        ADD --checksum=sha256:abc https://example.com/x /x
        COPY --parents ./a/b /dst/
        COPY --exclude=*.md . /src
        ONBUILD RUN --mount=type=secret,id=x cat /run/secrets/x
        COPY --chown=1:1 ok /ok
        """
        let df = try Dockerfile.parse(text, file: "apps/web/Dockerfile")
        let findings = df.validateForClassicBuilder()
        #expect(findings.map(\.line) == [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        #expect(findings.map(\.construct) == ["heredoc", "RUN --mount", "RUN --network", "RUN --security",
                                              "COPY --chmod", "ADD --chmod", "COPY --link", "ADD --checksum",
                                              "COPY --parents", "COPY --exclude", "RUN --mount"])
        #expect(findings[0].description == """
            apps/web/Dockerfile:2: RUN with a heredoc (<<EOF) needs BuildKit; the engine's classic builder (used by Berth) rejects it
              Write the script to a file in the build context and COPY it, or use 'RUN a && b' with line continuations.
            """)
        #expect(findings[1].description.hasPrefix("apps/web/Dockerfile:5: RUN --mount needs BuildKit; the engine's classic builder (used by Berth) rejects it"))
        #expect(findings[10].message.hasPrefix("ONBUILD RUN --mount needs BuildKit"))
        #expect(findings.allSatisfy { !$0.hint.isEmpty })

        let error = #expect(throws: DockerfileError.self) { try df.requireClassicBuilderCompatible() }
        #expect(error?.description.hasPrefix("apps/web/Dockerfile:2: 11 constructs need BuildKit") == true)
        #expect(error?.description.contains("apps/web/Dockerfile:13: COPY --exclude needs BuildKit") == true)
    }

    @Test func plainDockerfileIsAccepted() throws {
        let df = try Dockerfile.parse("""
        # syntax=docker/dockerfile:1
        FROM --platform=linux/amd64 debian:12 AS build
        RUN echo "<<EOF is just text here" > /x
        RUN ["sh", "-c", "cat <<EOF"]
        COPY --from=build --chown=0:0 /x /y
        HEALTHCHECK CMD true
        """)
        #expect(df.validateForClassicBuilder() == [])
        try df.requireClassicBuilderCompatible()
    }

    @Test func singleFindingThrowsItself() throws {
        let df = try Dockerfile.parse("FROM a\nCOPY <<EOF /x\nhello\nEOF\n")
        let error = #expect(throws: DockerfileError.self) { try df.requireClassicBuilderCompatible() }
        #expect(error?.description.hasPrefix("Dockerfile:2: COPY with a heredoc (<<EOF) needs BuildKit") == true)
        #expect(error?.description.contains("COPY that file") == true)
    }
}
