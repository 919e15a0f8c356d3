import Build
import Compose
import Engine
import Foundation
import Logging
import TestSupport

/// A throw-away compose project on disk whose images are all labelled `dev.berth.test=1`.
final class TestProject: @unchecked Sendable {
    static let busybox = "berth.local/busybox:latest"
    static let logger: Logger = {
        var l = Logger(label: "berth.tests.build")
        l.logLevel = .warning
        return l
    }()
    static let engine = EngineClient(logger: logger)

    let name: String
    let directory: URL
    private let lock = NSLock()
    private var images: Set<String> = []

    init(_ prefix: String) throws {
        name = TestNames.unique(prefix)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        let url = directory.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func load() throws -> Project {
        try ProjectLoader.load(
            ProjectOptions(files: [directory.appendingPathComponent("compose.yaml").path], projectName: name,
                           environment: [:], workingDirectory: directory.path),
            logger: Self.logger)
    }

    func options(_ change: (inout BuildOptions) -> Void = { _ in }) -> BuildOptions {
        var o = BuildOptions(revision: "0123456789abcdef0123", labels: [TestNames.testLabel: "1"])
        change(&o)
        return o
    }

    func plan(_ change: (inout BuildOptions) -> Void = { _ in }) throws -> BuildPlan {
        try BuildPlanner.plan(try load(), options: options(change))
    }

    /// Builds and remembers every image and tag for clean-up.
    func build(_ plan: BuildPlan, events: EventLog? = nil) async -> BuildReport {
        let builder = Builder(engine: Self.engine, logger: Self.logger)
        let report = await builder.run(plan) { event in events?.append(event) }
        lock.withLock {
            for item in plan.builds { images.formUnion(item.tags) }
            for result in report.results {
                images.insert(result.imageID)
                images.formUnion(result.stepImages.map { "sha256:" + $0 })
            }
        }
        return report
    }

    func track(_ reference: String) { _ = lock.withLock { images.insert(reference) } }

    /// Removes the images (tags first, then IDs) and the directory.
    func cleanUp() async {
        let all = lock.withLock { images }
        let tags = all.filter { !$0.hasPrefix("sha256:") }.sorted()
        // Step images by their short ID (the engine accepts a unique ID prefix).
        let ids = all.filter { $0.hasPrefix("sha256:") }.map { $0.count < 71 ? String($0.dropFirst(7)) : $0 }.sorted()
        for tag in tags { _ = try? await Self.engine.removeImage(tag, force: true) }
        // Twice: an image that is another's parent can only go once its child has gone.
        for _ in 0..<3 {
            for id in ids {
                // Never a tagged image: a step ID can be a shared base such as busybox.
                guard let image = try? await Self.engine.inspectImage(id), (image.repoTags ?? []).isEmpty else { continue }
                _ = try? await Self.engine.removeImage(id, force: true)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Events of a build run, in arrival order.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [BuildEvent] = []
    func append(_ event: BuildEvent) { lock.withLock { stored.append(event) } }
    var events: [BuildEvent] { lock.withLock { stored } }

    /// `started:a`, `step:a:Step 1/2 : FROM …`, `finished:a` … for order checks.
    var summary: [String] {
        events.map {
            switch $0 {
            case .started(let s): "started:\(s)"
            case .step(let s, let t): "step:\(s):\(t)"
            case .output(let s, let l): "output:\(s):\(l)"
            case .finished(let r): "finished:\(r.service)"
            case .failed(let e): "failed:\(e.service ?? "")"
            }
        }
    }
}

/// Runs `body` with a fresh project and removes its images and files however it ends.
func withProject(_ prefix: String, _ body: (TestProject) async throws -> Void) async throws {
    let project = try TestProject(prefix)
    do {
        try await body(project)
    } catch {
        await project.cleanUp()
        throw error
    }
    await project.cleanUp()
}
