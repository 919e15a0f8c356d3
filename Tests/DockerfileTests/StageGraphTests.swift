import Testing
@testable import Dockerfile

@Suite struct StageGraphTests {
    let text = """
    ARG REGISTRY=127.0.0.1:5000
    ARG TAG
    FROM ${REGISTRY}/acme/base:${TAG:-latest} AS base
    RUN make deps

    FROM golang:1.22 AS build
    ARG REGISTRY
    COPY --from=base /deps /deps
    COPY --from=${REGISTRY}/tools:1 /bin/tool /bin/

    FROM base AS test
    COPY --from=1 /out /out

    FROM scratch AS unrelated
    COPY --from=busybox:latest /bin/busybox /

    FROM debian:12
    COPY --from=build /out /app
    """

    @Test func stagesEdgesAndImages() throws {
        let graph = try StageGraph(dockerfile: try Dockerfile.parse(text), buildArgs: ["TAG": "v2"])
        #expect(graph.stages.map(\.name) == ["base", "build", "test", "unrelated", nil])
        #expect(graph.stages[0].base == .image("127.0.0.1:5000/acme/base:v2"))
        #expect(graph.stages[0].line == 3)
        #expect(graph.stages[1].copySources == [.stage(0), .image("127.0.0.1:5000/tools:1")])
        #expect(graph.stages[2].base == .stage(0))
        #expect(graph.stages[2].dependencies == [0, 1])
        #expect(graph.stages[3].base == .scratch)
        #expect(graph.baseImages == ["127.0.0.1:5000/acme/base:v2", "golang:1.22", "127.0.0.1:5000/tools:1",
                                     "busybox:latest", "debian:12"])
        #expect(graph.metaArgs == ["REGISTRY": "127.0.0.1:5000", "TAG": "v2"])
    }

    @Test func stagesNeededForTargets() throws {
        let graph = try StageGraph(dockerfile: try Dockerfile.parse(text))
        #expect(try graph.stagesNeeded(target: nil).map(\.index) == [0, 1, 4])
        #expect(try graph.stagesNeeded(target: "test").map(\.index) == [0, 1, 2])
        #expect(try graph.stagesNeeded(target: "BASE").map(\.index) == [0])
        #expect(try graph.baseImages(target: "unrelated") == ["busybox:latest"])
        #expect(try graph.stages[0].baseName == "127.0.0.1:5000/acme/base:latest")
        let error = #expect(throws: DockerfileError.self) { try graph.stagesNeeded(target: "nope") }
        #expect(error?.description.contains("target stage \"nope\" could not be found") == true)
        #expect(error?.description.contains("base, build, test, unrelated") == true)
    }

    @Test func forwardAndSelfReferencesAreRefused() throws {
        let forward = try Dockerfile.parse("FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\n")
        let e1 = #expect(throws: DockerfileError.self) { try StageGraph(dockerfile: forward) }
        #expect(e1?.description.hasPrefix("Dockerfile:2: COPY --from=two refers to stage \"two\"") == true)
        let index = try Dockerfile.parse("FROM a\nCOPY --from=0 /x /x\n")
        let e2 = #expect(throws: DockerfileError.self) { try StageGraph(dockerfile: index) }
        #expect(e2?.description.hasPrefix("Dockerfile:2: COPY --from=0 refers to stage index 0") == true)
        let duplicate = try Dockerfile.parse("FROM a AS x\nFROM b AS x\n")
        #expect(throws: DockerfileError.self) { try StageGraph(dockerfile: duplicate) }
    }

    @Test func blankBaseNameIsReported() throws {
        let df = try Dockerfile.parse("ARG IMAGE\nFROM $IMAGE\n")
        let error = #expect(throws: DockerfileError.self) { try StageGraph(dockerfile: df) }
        #expect(error?.description.hasPrefix("Dockerfile:2: base name ($IMAGE) should not be blank") == true)
        let graph = try StageGraph(dockerfile: df, buildArgs: ["IMAGE": "acme-web:abc"])
        #expect(graph.baseImages == ["acme-web:abc"])
    }

    @Test func realisticMultiStageFile() throws {
        let text = #"""
        # syntax=docker/dockerfile:1
        ARG GO_VERSION=1.22
        ARG DEBUG
        ARG VARIANT=linux
        ARG REGISTRY_VERSION=2.8.3

        FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS gobase
        RUN apt-get update

        FROM gobase as deps
        RUN --mount=target=/root/.cache,type=cache \
          --mount=from=gobase,src=/usr/local/go,target=/go2 \
          go mod download

        FROM deps AS bin-linux
        COPY --link --chmod=755 <<EOF /entrypoint.sh
        #!/bin/sh
        exec app \\
          --port \${PORT:-8080} \\
          -- "\$@"
        EOF
        ENV PORT 8080

        FROM registry:$REGISTRY_VERSION AS registry

        FROM bin-${VARIANT}${DEBUG:+-debug} AS final
        COPY --from=registry /bin/registry /usr/bin/
        """#
        let df = try Dockerfile.parse(text)
        #expect(df.instructions.map(\.keyword) == ["arg", "arg", "arg", "arg", "from", "run", "from", "run", "from",
                                                   "copy", "env", "from", "from", "copy"])
        let copy = df.instructions[9]
        #expect(copy.line == 16 && copy.endLine == 21)
        #expect(copy.heredocs.first?.content == "#!/bin/sh\nexec app \\\\\n  --port \\${PORT:-8080} \\\\\n  -- \"\\$@\"\n")
        #expect(df.instructions[10].line == 22)

        let graph = try StageGraph(dockerfile: df)
        #expect(graph.stages.map(\.name) == ["gobase", "deps", "bin-linux", "registry", "final"])
        #expect(graph.stages[0].platform == nil)
        #expect(graph.stages[1].copySources == [.stage(0)])
        #expect(graph.stages[3].base == .image("registry:2.8.3"))
        #expect(graph.stages[4].base == .stage(2))
        #expect(try graph.stagesNeeded(target: nil).map(\.index) == [0, 1, 2, 3, 4])
        #expect(try graph.stagesNeeded(target: "deps").map(\.index) == [0, 1])
        #expect(graph.baseImages == ["golang:1.22-bookworm", "registry:2.8.3"])

        let withArgs = try StageGraph(dockerfile: df, buildArgs: ["BUILDPLATFORM": "linux/amd64", "DEBUG": "1"])
        // BUILDPLATFORM is not declared, so (as in the classic builder) it does not apply.
        #expect(withArgs.stages[0].platform == nil)
        #expect(withArgs.stages[4].base == .image("bin-linux-debug"))

        #expect(df.validateForClassicBuilder().map(\.construct) == ["RUN --mount", "heredoc", "COPY --chmod", "COPY --link"])
    }

    @Test func stageScopedArgDoesNotReachFrom() throws {
        let df = try Dockerfile.parse("FROM a\nARG V=1\nFROM registry:$V\n")
        let error = #expect(throws: DockerfileError.self) { try StageGraph(dockerfile: df) }
        #expect(error?.description.hasPrefix(
            "Dockerfile:3: FROM registry:$V expands to \"registry:\", which is not a valid image reference: it ends with ':'") == true)
        #expect(error?.hint?.contains("before the first FROM") == true)
        #expect(referenceProblem("Acme/Web") != nil)
        #expect(referenceProblem("Registry.Local:5000/acme/web:v1") == nil)
        #expect(referenceProblem("127.0.0.1:5000/acme/web@sha256:abc") == nil)
    }
}
