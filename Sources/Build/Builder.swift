// Runs a BuildPlan on the engine's classic builder (POST /build, no BuildKit), a few builds
// at a time, dependencies first. A build whose build key (context digest + Dockerfile path +
// args + target + labels + base image IDs) matches an image already on the host is not run
// again: that image is tagged instead.

import Crypto
import Dockerfile
import Curl
import Engine
import Dispatch
import FoundationEssentials
import Platform
import Glibc
import Synchronization
import Logging
import Registry

/// Progress of a build run, as it happens.
public enum BuildEvent: Sendable {
    case started(service: String)
    /// A `Step 3/7 : RUN …` line of the classic builder.
    case step(service: String, text: String)
    /// Anything else the build printed (the output of RUN steps).
    case output(service: String, line: String)
    case finished(ServiceBuildResult)
    case failed(BuildError)
}

/// What became of one service.
public struct ServiceBuildResult: Sendable, Codable, Equatable {
    public var service: String
    /// `sha256:…` of the image.
    public var imageID: String
    public var tags: [String]
    /// The `dev.berth.context-digest` label: sha256 of everything that decides the image.
    public var buildKey: String
    /// sha256 of the context tar.
    public var contextDigest: String
    public var seconds: Double
    /// True when an image with the same build key was found and tagged instead of building.
    public var reused: Bool
    /// Short IDs of the images the engine made for each step (empty when reused). Those of
    /// stages other than the final one stay on the host as build cache.
    public var stepImages: [String] = []
    /// For each of `stepImages`: the Dockerfile instruction that made it, as
    /// `apps/web/Dockerfile:12 (stage runtime): COPY --from=build /out/app /app`. The libc
    /// audit names the instruction behind a finding's layer with it.
    public var stepInstructions: [String: String] = [:]
}

/// The outcome of a whole plan: results of what succeeded, errors of what did not.
public struct BuildReport: Sendable {
    /// In completion order.
    public var results: [ServiceBuildResult]
    /// Failures, then services skipped because something they need failed.
    public var failures: [BuildError]
    public var succeeded: Bool { failures.isEmpty }

    public init(results: [ServiceBuildResult], failures: [BuildError]) {
        self.results = results
        self.failures = failures
    }

    public func result(for service: String) -> ServiceBuildResult? { results.first { $0.service == service } }
}

/// Runs builds on one engine.
public struct Builder: Sendable {
    /// Label that carries the build key.
    public static let buildKeyLabel = "dev.berth.context-digest"
    public static let revisionLabel = "org.opencontainers.image.revision"
    public static let sourceLabel = "org.opencontainers.image.source"
    public static let createdLabel = "org.opencontainers.image.created"

    public let engine: EngineClient
    let logger: Logger
    let temporaryDirectory: String

    /// - Parameter temporaryDirectory: where context tars are written while they are sent
    ///   (default: `$TMPDIR`); each is removed after its build.
    public init(engine: EngineClient, logger: Logger, temporaryDirectory: String? = nil) {
        self.engine = engine
        self.logger = logger
        self.temporaryDirectory = temporaryDirectory ?? FileManager.default.temporaryDirectory.path
    }

    /// Builds the plan; throws the failures (every one, with skipped dependents) as one error.
    public func build(_ plan: BuildPlan, progress: @escaping @Sendable (BuildEvent) -> Void = { _ in })
        async throws(BuildError) -> [ServiceBuildResult]
    {
        let report = await run(plan, progress: progress)
        if !report.failures.isEmpty { throw BuildError.combined(report.failures) }
        return report.results
    }

    /// Builds the plan, at most `plan.parallelism` at a time. After a failure no new build
    /// starts; those already running finish.
    public func run(_ plan: BuildPlan, progress: @escaping @Sendable (BuildEvent) -> Void = { _ in }) async -> BuildReport {
        var pending = plan.builds
        var done: [String: ServiceBuildResult] = [:]
        var results: [ServiceBuildResult] = []
        var failures: [BuildError] = []
        let limit = max(1, plan.parallelism)
        let plan = plan

        await withTaskGroup(of: (String, Result<ServiceBuildResult, BuildError>).self) { group in
            var running = 0
            while true {
                while failures.isEmpty, running < limit,
                      let index = pending.firstIndex(where: { $0.dependencies.allSatisfy { done[$0] != nil } })
                {
                    let item = pending.remove(at: index)
                    let dependencyImages = item.dependencies.compactMap { done[$0] }
                    running += 1
                    group.addTask {
                        do throws(BuildError) {
                            let result = try await buildOne(item, plan: plan, dependencyImages: dependencyImages, progress: progress)
                            return (item.service, .success(result))
                        } catch {
                            return (item.service, .failure(error))
                        }
                    }
                }
                guard let (_, outcome) = await group.next() else { break }
                running -= 1
                switch outcome {
                case .success(let result):
                    done[result.service] = result
                    results.append(result)
                    progress(.finished(result))
                case .failure(let error):
                    failures.append(error)
                    progress(.failed(error))
                }
            }
        }
        for item in pending {
            failures.append(BuildError(.skipped, service: item.service, message: "not built because an earlier build failed"))
        }
        return BuildReport(results: results, failures: failures)
    }

    /// One service: archive the context, reuse an image with the same build key, else build.
    func buildOne(_ item: ServiceBuild, plan: BuildPlan, dependencyImages: [ServiceBuildResult],
                  progress: @escaping @Sendable (BuildEvent) -> Void) async throws(BuildError) -> ServiceBuildResult
    {
        let clock = ContinuousClock()
        let start = clock.now
        progress(.started(service: item.service))
        let tarPath = temporaryDirectory + "/berth-context-\(plan.project)-\(item.service)-\(UUID().uuidString.prefix(8)).tar"
        defer { unlink(tarPath) }
        let archive: BuildContextArchive
        do {
            let generated = item.generatedDockerfile.map { [GeneratedFile(name: item.dockerfile, contents: Array($0.utf8))] } ?? []
            archive = try await Self.archive(directory: item.context, dockerfile: item.dockerfile, generated: generated, to: tarPath)
        } catch {
            throw BuildError(error, service: item.service)
        }

        let baseIDs = await baseImageIDs(item, dependencyImages: dependencyImages)
        let key = Self.buildKey(contextDigest: archive.digest, item: item, baseImageIDs: baseIDs)
        func elapsed() -> Double {
            let d = clock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }

        if !item.noCache && !item.pull {
            do {
                if let existing = try await imageWithKey(key) {
                    for reference in item.tags { try await applyTag(existing, as: reference) }
                    progress(.output(service: item.service, line: "unchanged context: reused \(existing)"))
                    return ServiceBuildResult(service: item.service, imageID: existing, tags: item.tags, buildKey: key,
                                              contextDigest: archive.digest, seconds: elapsed(), reused: true)
                }
            } catch {
                throw BuildError(.engine, service: item.service, message: "\(error)")
            }
        }

        var labels = item.labels
        labels[Self.revisionLabel] = plan.revision
        labels[Self.sourceLabel] = plan.source
        labels[Self.createdLabel] = Self.rfc3339(Date())
        labels[Self.buildKeyLabel] = key
        // The classic builder turns each `labels` parameter into a step of its own, each a
        // container and a commit (~0.5 s); one LABEL line in the Dockerfile costs one step.
        // The context is archived again with that Dockerfile; the key above stays the
        // digest of the context as it is.
        let labelled = Self.dockerfile(item.dockerfileText, labels: labels, afterLine: item.labelLine, escape: item.escapeToken)
        let buildArchive: BuildContextArchive
        do {
            unlink(tarPath)
            buildArchive = try await Self.archive(
                directory: item.context, dockerfile: item.dockerfile,
                generated: [GeneratedFile(name: item.dockerfile, contents: Array(labelled.utf8))], to: tarPath)
        } catch {
            throw BuildError(error, service: item.service)
        }
        let built = try await engineBuild(item, tarPath: tarPath, size: buildArchive.size, progress: progress)
        return ServiceBuildResult(service: item.service, imageID: built.id, tags: item.tags, buildKey: key,
                                  contextDigest: archive.digest, seconds: elapsed(), reused: false, stepImages: built.stepImages,
                                  stepInstructions: Self.instructions(forSteps: built.stepLines, dockerfile: item.dockerfileText,
                                                                      file: item.dockerfileSource))
    }

    /// Step image → `file:line (stage name): INSTRUCTION`. The classic builder numbers steps
    /// over every instruction of the Dockerfile in order (meta ARGs, each FROM, each command),
    /// so step n is instruction n; a keyword that does not match leaves the step out.
    static func instructions(forSteps steps: [String: String], dockerfile text: String, file: String) -> [String: String] {
        guard let parsed = try? Dockerfile.parse(text, file: file) else { return [:] }
        // Stage of each instruction: index and name of the FROM at or before it.
        var stageOf: [(index: Int, name: String?)] = []
        var stage = (index: -1, name: String?.none)
        for instruction in parsed.instructions {
            if case .from(let from) = instruction.command { stage = (stage.index + 1, from.stageName) }
            stageOf.append(stage)
        }
        var out: [String: String] = [:]
        for (image, line) in steps {
            guard line.hasPrefix("Step "), let colon = line.firstRange(of: " : ") else { continue }
            let numbers = line[line.index(line.startIndex, offsetBy: 5)..<colon.lowerBound].split(separator: "/")
            guard let first = numbers.first, let n = Int(first), n >= 1, n <= parsed.instructions.count else { continue }
            let instruction = parsed.instructions[n - 1]
            let written = line[colon.upperBound...].trimming(.whitespaces)
            guard written.lowercased().hasPrefix(instruction.keyword.lowercased()) else { continue }
            let where_ = stageOf[n - 1]
            let stageText = where_.name.map { "stage \($0)" } ?? "stage \(where_.index)"
            out[image] = "\(file):\(instruction.line) (\(stageText)): \(written)"
        }
        return out
    }

    /// Archives on a dispatch thread: walking and hashing a large context must not hold one of
    /// the few cooperative threads that every other task (other builds' streams) needs.
    static func archive(directory: String, dockerfile: String, generated: [GeneratedFile], to tarPath: String)
        async throws(BuildContextError) -> BuildContextArchive
    {
        let result: Result<BuildContextArchive, BuildContextError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do throws(BuildContextError) {
                    continuation.resume(returning: .success(
                        try BuildContext.write(directory: directory, dockerfile: dockerfile, generated: generated, to: tarPath)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// IDs of the images the build starts from, for the build key: a new base means a new image.
    func baseImageIDs(_ item: ServiceBuild, dependencyImages: [ServiceBuildResult]) async -> [String] {
        var ids: [String] = []
        for base in item.baseImages {
            let canonical = ImageReference.canonical(base)
            if let built = dependencyImages.first(where: { $0.tags.contains { ImageReference.canonical($0) == canonical } }) {
                ids.append(built.imageID)
            } else if let image = try? await engine.inspectImage(base) {
                ids.append(image.id)
            } else {
                // Not on the host: the engine pulls it; the key changes once it is here.
                ids.append("absent:" + canonical)
            }
        }
        return ids
    }

    /// sha256 over everything that decides the image's content.
    public static func buildKey(contextDigest: String, item: ServiceBuild, baseImageIDs: [String]) -> String {
        var text = "berth-build-key-v1\n"
        text += "context \(contextDigest)\n"
        text += "dockerfile \(item.dockerfile)\n"
        for (key, value) in item.buildArgs.sorted(by: { $0.key < $1.key }) { text += "arg \(key)=\(value)\n" }
        text += "target \(item.target ?? "")\n"
        for (key, value) in item.labels.sorted(by: { $0.key < $1.key }) { text += "label \(key)=\(value)\n" }
        for id in baseImageIDs { text += "base \(id)\n" }
        return "sha256:" + Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// The newest local image carrying the build key.
    func imageWithKey(_ key: String) async throws -> String? {
        let images = try await engine.listImages(filters: ["label": ["\(Self.buildKeyLabel)=\(key)"]])
        return images.max { ($0.created ?? 0) < ($1.created ?? 0) }?.id
    }

    func applyTag(_ id: String, as reference: String) async throws {
        try await engine.tagImage(id, as: reference)
    }

    /// `POST /build` and its stream, read to the end.
    func engineBuild(_ item: ServiceBuild, tarPath: String, size: Int64,
                     progress: @escaping @Sendable (BuildEvent) -> Void) async throws(BuildError) -> (id: String, stepImages: [String], stepLines: [String: String])
    {
        logger.debug("build", metadata: ["service": "\(item.service)", "context": "\(size) bytes", "tags": "\(item.tags)"])
        let options = ImageBuildOptions(tags: item.tags, dockerfile: item.dockerfile, buildArgs: item.buildArgs,
                                        target: item.target, pull: item.pull, noCache: item.noCache)
        // The LABEL line Berth added is the last step; it is not shown or counted.
        let box = Mutex(BuildStreamReader(service: item.service, hiddenTrailingSteps: 1, progress: progress))
        do {
            try await engine.buildImage(context: .file(path: tarPath), options: options) { message in
                box.withLock { $0.consume(message) }
            }
        } catch let error as EngineError where error.kind == .streamError {
            // The reader saw the failing message; it is reported below with its step.
        } catch {
            throw BuildError(.engine, service: item.service, location: box.withLock { $0.currentStep },
                             message: "the build failed in transit: \(error)")
        }
        let reader = box.withLock { reader in
            reader.finish()
            return reader
        }
        if let failure = reader.failure {
            throw BuildError(.buildFailed, service: item.service, location: reader.currentStep ?? item.dockerfileSource,
                             message: failure,
                             hint: "Fix the step in \(item.dockerfileSource); no tag was moved, the previous image (if any) keeps its tags.",
                             output: reader.stepOutput)
        }
        guard let id = reader.imageID else {
            throw BuildError(.engine, service: item.service, location: reader.currentStep,
                             message: "the engine ended the build without an image ID",
                             hint: "Look at the engine's log (journalctl -u docker) for what happened.")
        }
        return (id, reader.stepImages, reader.stepLines)
    }

    /// `text` with `LABEL "k"="v" …` inserted after line `afterLine` (1-based). Quoted so that
    /// nothing in a value is expanded: `"`, `$` and the escape character are escaped.
    static func dockerfile(_ text: String, labels: [String: String], afterLine: Int, escape: Character) -> String {
        func quote(_ s: String) -> String {
            var out = "\""
            for c in s {
                if c == "\"" || c == "$" || c == escape { out.append(escape) }
                out.append(c == "\n" || c == "\r" ? " " : c)
            }
            return out + "\""
        }
        let line = "LABEL " + labels.sorted { $0.key < $1.key }.map { quote($0.key) + "=" + quote($0.value) }.joined(separator: " ")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        lines.insert(line, at: min(max(afterLine, 0), lines.count))
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ map: [String: String]) -> String? {
        guard !map.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(map) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func rfc3339(_ date: Date) -> String {
        Date.ISO8601FormatStyle().format(date)
    }
}

/// Turns the classic builder's JSON lines into steps, output and the outcome.
struct BuildStreamReader {
    let service: String
    let progress: @Sendable (BuildEvent) -> Void
    var text = ""
    var currentStep: String?
    /// The last lines of output of the current step.
    var stepOutput: [String] = []
    var imageID: String?
    var failure: String?
    var stepImages: [String] = []
    /// Step image short ID → the engine's `Step n/m : …` line that made it (numbers as sent).
    var stepLines: [String: String] = [:]
    private var rawStep: String?
    let decoder = JSONDecoder()
    static let keptLines = 15

    /// Steps the engine appends for build-time labels: not shown, not counted.
    let hiddenTrailingSteps: Int

    init(service: String, hiddenTrailingSteps: Int = 0, progress: @escaping @Sendable (BuildEvent) -> Void) {
        self.service = service
        self.hiddenTrailingSteps = hiddenTrailingSteps
        self.progress = progress
    }

    mutating func consume(_ line: Data) {
        let trimmed = line.filter { $0 != 0x0D }
        guard !trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { return }
        guard let message = try? decoder.decode(JSONMessage.self, from: trimmed) else {
            record(String(decoding: trimmed, as: UTF8.self))
            return
        }
        consume(message)
    }

    mutating func consume(_ message: JSONMessage) {
        if let id = message.aux?.id { imageID = id }
        if let stream = message.stream {
            text += stream
            while let newline = text.firstIndex(of: "\n") {
                let piece = String(text[..<newline])
                text.removeSubrange(...newline)
                handle(piece)
            }
        }
        if let failure = message.failure, self.failure == nil { self.failure = failure }
    }

    mutating func finish() {
        if !text.isEmpty { handle(text); text = "" }
    }

    private mutating func handle(_ line: String) {
        if line.hasPrefix("Step "), let colon = line.firstRange(of: " : ") {
            stepOutput = []
            rawStep = line
            // "Step 3/9 : RUN …" → numbers as the Dockerfile has them.
            let numbers = line[line.index(line.startIndex, offsetBy: 5)..<colon.lowerBound].split(separator: "/")
            if numbers.count == 2, let index = Int(numbers[0]), let total = Int(numbers[1]), hiddenTrailingSteps > 0 {
                let shown = total - hiddenTrailingSteps
                currentStep = "Step \(index)/\(shown)" + line[colon.lowerBound...]
                if index > shown { return }
            } else {
                currentStep = line
            }
            progress(.step(service: service, text: currentStep ?? line))
            return
        }
        // The builder's own bookkeeping says nothing the user needs.
        if line.hasPrefix(" ---> ") {
            let word = line.dropFirst(6).trimming(.whitespaces)
            // After a FROM step the ID is the base image, which is not this build's to list.
            var isFrom = false
            if let step = currentStep, let separator = step.firstRange(of: " : ") {
                isFrom = step[separator.upperBound...].uppercased().hasPrefix("FROM ")
            }
            if !isFrom, word.count >= 12, word.allSatisfy(\.isHexDigit), !stepImages.contains(word) {
                stepImages.append(word)
                if let rawStep { stepLines[word] = rawStep }
            }
            return
        }
        if line.hasPrefix("Removing intermediate container") || line.hasPrefix("Successfully tagged") {
            return
        }
        if line.hasPrefix("Successfully built "), imageID == nil {
            let short = line.dropFirst("Successfully built ".count).trimming(.whitespaces)
            imageID = short
        }
        record(line)
    }

    private mutating func record(_ line: String) {
        if line.trimming(.whitespaces).isEmpty { return }
        stepOutput.append(line)
        if stepOutput.count > Self.keptLines { stepOutput.removeFirst(stepOutput.count - Self.keptLines) }
        progress(.output(service: service, line: line))
    }
}
