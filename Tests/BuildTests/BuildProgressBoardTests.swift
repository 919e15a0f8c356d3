@testable import Build
import Foundation
import Testing

/// The rows behind `berth build`'s live view on a terminal.
@Suite struct BuildProgressBoardTests {
    static func board(_ services: [String]) -> BuildProgressBoard {
        BuildProgressBoard(rows: services.map { .init(service: $0, image: "p-\($0):latest", state: .waiting) })
    }

    static func result(_ service: String, reused: Bool = false) -> ServiceBuildResult {
        ServiceBuildResult(service: service, imageID: "sha256:0123456789abcdef0123", tags: ["p-\(service):latest"], buildKey: "k",
                           contextDigest: "c", seconds: 2.25, reused: reused)
    }

    @Test func oneLinePerServiceFollowsTheSteps() {
        var b = Self.board(["api", "web"])
        #expect(b.render(width: 80) == ["· api  waiting", "· web  waiting"])
        let started = b.apply(.started(service: "web"))
        #expect(started)
        #expect(b.render(width: 80)[1] == "… web  sending the context (p-web:latest)")
        let stepped = b.apply(.step(service: "web", text: "Step 3/5 : RUN make all"))
        #expect(stepped)
        let output = b.apply(.output(service: "web", line: "cc -o app main.c"))
        #expect(!output, "RUN output does not redraw")
        #expect(b.render(width: 80) == ["· api  waiting", "… web  [3/5] RUN make all"])
        #expect(!b.isFinished)
        b.apply(.finished(Self.result("web")))
        #expect(b.render(width: 80)[1] == "✔ web  built 0123456789ab p-web:latest in 2.2s")
        b.apply(.failed(BuildError(.buildFailed, service: "api", message: "the step failed\nmore", hint: "fix it")))
        #expect(b.render(width: 80)[0] == "✘ api  FAILED: the step failed")
        #expect(b.isFinished)
    }

    @Test func linesFitTheTerminalAndColourOnlyTheMark() throws {
        var b = Self.board(["web"])
        b.apply(.step(service: "web", text: "Step 2/2 : RUN " + String(repeating: "x", count: 200)))
        let line = try #require(b.render(width: 40).first)
        #expect(line.count == 40)
        #expect(line.hasSuffix("…"))
        let coloured = try #require(b.render(width: 40, colour: true).first)
        #expect(coloured.hasPrefix("\u{1B}[36m…\u{1B}[0m web"))
        #expect(coloured.replacingOccurrences(of: "\u{1B}[36m", with: "").replacingOccurrences(of: "\u{1B}[0m", with: "") == line)
    }

    @Test func servicesNeverStartedAreSkippedAtTheEnd() {
        var b = Self.board(["a", "b"])
        b.apply(.started(service: "a"))
        b.apply(.failed(BuildError(.engine, service: "a", message: "no engine")))
        b.skipWaiting()
        #expect(b.rows.map(\.state) == [.failed("no engine"), .skipped])
        #expect(b.render(width: 80)[1] == "- b  skipped (an earlier build failed)")
        #expect(BuildProgressBoard.compactStep("Step 10/12 : COPY --from=build /out /app") == "[10/12] COPY --from=build /out /app")
        #expect(BuildProgressBoard.compactStep("not a step") == "not a step")
    }

    @Test func stepImagesMapToTheirDockerfileInstructionAndStage() {
        let dockerfile = """
            ARG BASE=berth.local/debian:bookworm
            FROM berth.local/debian-build:bookworm AS build
            RUN gcc -o /out/app app.c

            FROM ${BASE}
            COPY --from=build /out/app /usr/local/bin/app
            """
        let steps = [
            "aaaaaaaaaaaa": "Step 3/5 : RUN gcc -o /out/app app.c",
            "bbbbbbbbbbbb": "Step 5/5 : COPY --from=build /out/app /usr/local/bin/app",
            "cccccccccccc": "Step 4/5 : RUN something else",  // step 4 is a FROM: left out
        ]
        let named = Builder.instructions(forSteps: steps, dockerfile: dockerfile, file: "apps/x/Dockerfile")
        #expect(named["aaaaaaaaaaaa"] == "apps/x/Dockerfile:3 (stage build): RUN gcc -o /out/app app.c")
        #expect(named["bbbbbbbbbbbb"] == "apps/x/Dockerfile:6 (stage 1): COPY --from=build /out/app /usr/local/bin/app")
        #expect(named["cccccccccccc"] == nil)

        let layer = AuditLayer(index: 1, diffID: "sha256:" + String(repeating: "d", count: 64), createdBy: "/bin/sh -c #(nop) COPY file:123 in /usr/local/bin/app",
                               stepImage: "sha256:bbbbbbbbbbbb" + String(repeating: "0", count: 52))
        var report = AuditReport(image: "x", imageID: "sha256:1", architecture: nil, libc: "none", glibcVersion: nil, highestGlibcNeeded: nil,
                                 filesChecked: 1, elfCount: 1, staticCount: 0,
                                 findings: [AuditFinding(kind: .missingInterpreter, path: "/usr/local/bin/app", missing: "/lib64/ld-linux-x86-64.so.2",
                                                         message: "m", layer: layer)],
                                 unreadable: [], layers: [AuditLayer(index: 0, diffID: nil, createdBy: nil), layer], bytesRead: 0, seconds: 0)
        #expect(report.findings[0].layer?.summary.contains("COPY file:123") == true)
        report = report.naming(steps: named)
        #expect(report.findings[0].layer?.instruction == named["bbbbbbbbbbbb"])
        #expect(report.findings[0].layer?.summary == "layer 1 (sha256:dddddddddddd): apps/x/Dockerfile:6 (stage 1): COPY --from=build /out/app /usr/local/bin/app")
        #expect(report.layers[1].instruction != nil && report.layers[0].instruction == nil)
    }
}
