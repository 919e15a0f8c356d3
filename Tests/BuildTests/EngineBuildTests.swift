import Build
import Compose
import Engine
import Foundation
import Testing
import TestSupport

/// Builds against the real engine, from the local `berth.local/busybox:latest` only.
@Suite struct EngineBuildTests {
    let busybox = TestProject.busybox

    @Test func fromAnotherServiceOrdersTheBuilds() async throws {
        try await withProject("bt-order") { p in
            // b names a's default image without a tag; it must still be recognised as a's.
            try p.write("compose.yaml", """
                services:
                  b:
                    build: ./b
                  a:
                    build: ./a
                """)
            try p.write("a/Dockerfile", "FROM \(busybox)\nRUN echo a > /a.txt\n")
            try p.write("b/Dockerfile", "FROM \(p.name)-a\nRUN cat /a.txt > /b.txt\n")
            let note = "costs $5 \"or\" \\more"
            let plan = try p.plan { $0.labels["dev.berth.note"] = note }
            #expect(plan.builds.map(\.service) == ["a", "b"])
            #expect(plan.build(for: "b")?.dependencies == ["a"])

            let log = EventLog()
            let report = await p.build(plan, events: log)
            #expect(report.succeeded, "\(report.failures)")
            let events = log.summary
            let aDone = try #require(events.firstIndex(of: "finished:a"))
            let bStart = try #require(events.firstIndex(of: "started:b"))
            #expect(aDone < bStart)

            let a = try await TestProject.engine.inspectImage("\(p.name)-a:latest")
            let b = try await TestProject.engine.inspectImage("\(p.name)-b:latest")
            let aLayers = a.rootFS?.layers ?? []
            #expect(!aLayers.isEmpty)
            #expect(Array((b.rootFS?.layers ?? []).prefix(aLayers.count)) == aLayers)
            #expect(b.id == report.result(for: "b")?.imageID)
            #expect(b.config?.labels?["org.opencontainers.image.revision"] == "0123456789abcdef0123")
            #expect(b.config?.labels?[TestNames.testLabel] == "1")
            #expect(b.config?.labels?["dev.berth.note"] == note)
            #expect(b.config?.labels?[Builder.buildKeyLabel] == report.result(for: "b")?.buildKey)
            #expect(b.config?.labels?["org.opencontainers.image.created"]?.hasSuffix("Z") == true)
        }
    }

    @Test func multiStageWithInlineAndFileDockerfiles() async throws {
        try await withProject("bt-multi") { p in
            try p.write("compose.yaml", """
                services:
                  app:
                    build:
                      context: ./app
                      dockerfile: build/Dockerfile.multi
                  inline:
                    image: \(p.name)/inline:v1
                    build:
                      context: ./app
                      dockerfile_inline: |
                        FROM \(busybox)
                        COPY hello.txt /hello.txt
                """)
            try p.write("app/hello.txt", "hello\n")
            try p.write("app/build/Dockerfile.multi", """
                FROM \(busybox) AS build
                COPY hello.txt /src/hello.txt
                RUN tr a-z A-Z < /src/hello.txt > /out.txt
                FROM \(busybox)
                COPY --from=build /out.txt /out.txt
                LABEL stage=final
                """)
            let plan = try p.plan()
            #expect(plan.build(for: "app")?.dockerfile == "build/Dockerfile.multi")
            #expect(plan.build(for: "inline")?.dockerfile == BuildPlanner.generatedDockerfileName)
            #expect(plan.build(for: "inline")?.image == "\(p.name)/inline:v1")
            let log = EventLog()
            let report = await p.build(plan, events: log)
            #expect(report.succeeded, "\(report.failures)")
            let steps = log.summary.filter { $0.hasPrefix("step:app:") }
            // The engine's LABEL steps for Berth's labels are hidden and not counted.
            #expect(steps.count == 6, "\(steps)")
            #expect(!steps.contains { $0.contains("dev.berth") })
            #expect(steps.contains { $0.hasSuffix("Step 5/6 : COPY --from=build /out.txt /out.txt") })
            let app = try await TestProject.engine.inspectImage("\(p.name)-app:latest")
            #expect(app.config?.labels?["stage"] == "final")
            let inline = try await TestProject.engine.inspectImage("\(p.name)/inline:v1")
            #expect(inline.id == report.result(for: "inline")?.imageID)
        }
    }

    @Test func unchangedContextIsReusedAndAChangeRebuilds() async throws {
        try await withProject("bt-reuse") { p in
            try p.write("compose.yaml", "services:\n  web:\n    build: .\n")
            try p.write("Dockerfile", "FROM \(busybox)\nCOPY site /site\nRUN ls /site > /index\n")
            try p.write("site/index.html", "<h1>one</h1>\n")
            try p.write(".dockerignore", "*.tmp\n")

            let first = await p.build(try p.plan())
            #expect(first.succeeded, "\(first.failures)")
            let built = try #require(first.result(for: "web"))
            #expect(!built.reused)

            // An ignored file changes nothing.
            try p.write("scratch.tmp", "noise")
            let second = await p.build(try p.plan())
            let reused = try #require(second.result(for: "web"))
            #expect(reused.reused)
            #expect(reused.imageID == built.imageID)
            #expect(reused.buildKey == built.buildKey)
            // Reuse is a context hash and one image look-up; the bound is loose because a hundred
            // engine-bound tests share 2 cores with it.
            #expect(reused.seconds < 15)
            let keyed = try await TestProject.engine.listImages(filters: ["label": ["\(Builder.buildKeyLabel)=\(built.buildKey)"]])
            #expect(keyed.map(\.id) == [built.imageID])

            // The tag comes back even when it was moved away in between.
            try await TestProject.engine.tagImage(TestProject.busybox, repository: "\(p.name)-web", tag: "latest")
            let third = await p.build(try p.plan())
            #expect(third.result(for: "web")?.reused == true)
            #expect(try await TestProject.engine.inspectImage("\(p.name)-web:latest").id == built.imageID)

            try p.write("site/index.html", "<h1>two</h1>\n")
            let fourth = await p.build(try p.plan())
            let rebuilt = try #require(fourth.result(for: "web"))
            #expect(!rebuilt.reused)
            #expect(rebuilt.imageID != built.imageID)
            #expect(rebuilt.buildKey != built.buildKey)
            #expect(try await TestProject.engine.inspectImage("\(p.name)-web:latest").id == rebuilt.imageID)

            // --no-cache builds even with the same key.
            let fifth = await p.build(try p.plan { $0.noCache = true })
            #expect(fifth.result(for: "web")?.reused == false)
            if let id = fifth.result(for: "web")?.imageID { p.track(id) }
        }
    }

    @Test func failingStepNamesTheStepAndMovesNoTag() async throws {
        try await withProject("bt-fail") { p in
            try p.write("compose.yaml", "services:\n  job:\n    build: .\n")
            try p.write("Dockerfile", "FROM \(busybox)\nRUN true\n")
            let good = await p.build(try p.plan())
            let goodID = try #require(good.result(for: "job")?.imageID, "first build: \(good.failures.map(\.description))")

            try p.write("Dockerfile", "FROM \(busybox)\nRUN echo about to fail && false\nRUN true\n")
            let log = EventLog()
            let bad = await p.build(try p.plan(), events: log)
            #expect(!bad.succeeded)
            let error = try #require(bad.failures.first)
            #expect(error.kind == .buildFailed)
            #expect(error.service == "job")
            #expect(error.location == "Step 2/3 : RUN echo about to fail && false")
            #expect(error.message.contains("returned a non-zero code: 1"))
            #expect(error.output.contains("about to fail"))
            #expect(error.description.contains("service job: Step 2/3 : RUN echo about to fail && false: "))
            #expect(log.summary.contains("failed:job"))
            #expect(try await TestProject.engine.inspectImage("\(p.name)-job:latest").id == goodID)
        }
    }

    @Test func buildArgsAndTarget() async throws {
        try await withProject("bt-args") { p in
            try p.write("compose.yaml", """
                services:
                  tool:
                    build:
                      context: .
                      target: base
                      args:
                        GREETING: hello
                        FROM_ENV:
                """)
            try p.write("Dockerfile", """
                ARG BASE=\(busybox)
                FROM ${BASE} AS base
                ARG GREETING=unset
                ARG FROM_ENV=none
                RUN echo "$GREETING" > /greeting
                LABEL greeting=$GREETING from_env=$FROM_ENV
                FROM base AS other
                LABEL stage=other
                """)
            let plan = try p.plan { $0.buildArgs = ["GREETING": "bonjour"] }
            let item = try #require(plan.build(for: "tool"))
            #expect(item.buildArgs == ["GREETING": "bonjour"])
            #expect(item.baseImages == [busybox])
            let report = await p.build(plan)
            #expect(report.succeeded, "\(report.failures)")
            let image = try await TestProject.engine.inspectImage("\(p.name)-tool:latest")
            #expect(image.config?.labels?["greeting"] == "bonjour")
            #expect(image.config?.labels?["from_env"] == "none")
            #expect(image.config?.labels?["stage"] == nil)

            // Another arg value is another build key, so another image.
            let again = await p.build(try p.plan { $0.buildArgs = ["GREETING": "hallo"] })
            #expect(again.result(for: "tool")?.reused == false)
            #expect(try await TestProject.engine.inspectImage("\(p.name)-tool:latest").config?.labels?["greeting"] == "hallo")
            if let id = report.result(for: "tool")?.imageID { p.track(id) }
        }
    }
}
