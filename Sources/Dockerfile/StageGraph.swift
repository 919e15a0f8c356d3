import Interpolation
// Stages and the edges between them: `FROM <earlier stage>` and `COPY --from=<stage|index>`,
// with ARGs declared before the first FROM expanded in FROM lines, so a build can tell which
// stages a target needs and which external images it pulls from.

/// Where a stage or a `COPY --from` gets its content.
public enum StageSource: Sendable, Equatable, Hashable {
    /// An earlier stage, by index.
    case stage(Int)
    /// An image outside this Dockerfile (for example another service's image).
    case image(String)
    /// `FROM scratch`.
    case scratch
}

/// One build stage: a FROM line and the instructions up to the next FROM.
public struct Stage: Sendable, Equatable {
    public var index: Int
    /// `AS name`, lowercased.
    public var name: String?
    /// The base after ARG expansion.
    public var base: StageSource
    /// The FROM image text after ARG expansion.
    public var baseName: String
    /// `--platform` after ARG expansion.
    public var platform: String?
    /// 1-based line of the FROM.
    public var line: Int
    /// The instructions of the stage, FROM excluded.
    public var instructions: [Instruction]
    /// Sources of `COPY --from` / `RUN --mount=from=` in this stage.
    public var copySources: [StageSource]

    /// Indices of the stages this one reads from.
    public var dependencies: [Int] {
        var result: [Int] = []
        for source in [base] + copySources {
            if case .stage(let i) = source, !result.contains(i) { result.append(i) }
        }
        return result.sorted()
    }

    /// External images this stage reads from.
    public var images: [String] {
        var result: [String] = []
        for source in [base] + copySources {
            if case .image(let name) = source, !result.contains(name) { result.append(name) }
        }
        return result
    }
}

/// The stages of a Dockerfile and their dependencies.
public struct StageGraph: Sendable, Equatable {
    public var stages: [Stage]
    /// ARGs declared before the first FROM, after build-arg overrides (nil: declared, no value).
    public var metaArgs: [String: String]
    public var file: String

    /// Resolves stages with `buildArgs` (the `--build-arg` values) overriding ARG defaults.
    public init(dockerfile: Dockerfile, buildArgs: [String: String] = [:]) throws(DockerfileError) {
        file = dockerfile.file
        let lexer = dockerfile.lexer
        var meta: [String: String] = [:]
        var metaDeclared: Set<String> = []
        var stages: [Stage] = []
        let allNames: [String?] = dockerfile.instructions.compactMap {
            if case .from(let from) = $0.command { return .some(from.stageName) }
            return nil
        }

        func fail(_ line: Int, _ message: String, _ hint: String? = nil) -> DockerfileError {
            DockerfileError(file: dockerfile.file, line: line, message: message, hint: hint)
        }
        func expand(_ word: String, env: [String: String], line: Int) throws(DockerfileError) -> String {
            do {
                return try lexer.processWord(word, env: env)
            } catch let e {
                throw e.located(file: dockerfile.file, line: line)
            }
        }
        func resolve(_ ref: String, before index: Int, line: Int, what: String) throws(DockerfileError) -> StageSource {
            let lowered = ref.lowercased()
            if let n = Int(ref), ref.allSatisfy(\.isASCII) {
                guard n >= 0, n < index else {
                    throw fail(line, "\(what) refers to stage index \(n), but only stages 0…\(index - 1) come before it",
                               "Name an earlier stage (by its AS name or index), or an image.")
                }
                return .stage(n)
            }
            if let earlier = stages.first(where: { $0.name == lowered }) { return .stage(earlier.index) }
            if let later = allNames.firstIndex(of: lowered) {
                throw fail(line, "\(what) refers to stage \(goQuote(lowered)) (stage \(later)), which does not come before it",
                           "Move that stage above this one: a stage can only read from earlier stages.")
            }
            if lowered == "scratch" { return .scratch }
            return .image(ref)
        }

        var stageEnv: [String: String] = [:]
        for instruction in dockerfile.instructions {
            switch instruction.command {
            case .arg(let decls) where stages.isEmpty:
                for decl in decls {
                    metaDeclared.insert(decl.name)
                    if let override = buildArgs[decl.name] {
                        meta[decl.name] = override
                    } else if let value = decl.defaultValue {
                        meta[decl.name] = try expand(value, env: meta, line: instruction.line)
                    }
                }
            case .from(let from):
                let index = stages.count
                let image = try expand(from.image, env: meta, line: instruction.line)
                guard !image.isEmpty else {
                    throw fail(instruction.line, "base name (\(from.image)) should not be blank",
                               "Give the ARG a default value or pass it as a build arg.")
                }
                if let problem = referenceProblem(image) {
                    throw fail(instruction.line, "FROM \(from.image) expands to \(goQuote(image)), which is not a valid image reference: \(problem)",
                               "Declare the ARGs it uses before the first FROM (with defaults), or pass them as build args.")
                }
                if let name = from.stageName, stages.contains(where: { $0.name == name }) {
                    throw fail(instruction.line, "duplicate stage name \(goQuote(name))",
                               "Give every stage a different AS name.")
                }
                // An unset `$BUILDPLATFORM` leaves an empty value, which means "the default".
                let platform = try from.platform.map { (p) throws(DockerfileError) -> String in
                    try expand(p, env: meta, line: instruction.line)
                }.flatMap { $0.isEmpty ? nil : $0 }
                let base: StageSource
                if let earlier = stages.first(where: { $0.name == image.lowercased() }) {
                    base = .stage(earlier.index)
                } else if image.lowercased() == "scratch" {
                    base = .scratch
                } else {
                    base = .image(image)
                }
                stages.append(Stage(index: index, name: from.stageName, base: base, baseName: image,
                                    platform: platform, line: instruction.line, instructions: [], copySources: []))
                stageEnv = [:]
            default:
                guard !stages.isEmpty else { continue }
                let index = stages.count - 1
                stages[index].instructions.append(instruction)
                switch instruction.command {
                case .arg(let decls):
                    for decl in decls {
                        if let override = buildArgs[decl.name] {
                            stageEnv[decl.name] = override
                        } else if let value = decl.defaultValue {
                            stageEnv[decl.name] = try expand(value, env: stageEnv, line: instruction.line)
                        } else if metaDeclared.contains(decl.name), let value = meta[decl.name] {
                            stageEnv[decl.name] = value
                        }
                    }
                case .env(let pairs):
                    for pair in pairs {
                        stageEnv[try expand(pair.key, env: stageEnv, line: instruction.line)] =
                            try expand(pair.value, env: stageEnv, line: instruction.line)
                    }
                case .copy(let copy):
                    if let from = copy.from, !from.isEmpty {
                        let ref = try expand(from, env: stageEnv, line: instruction.line)
                        if let name = stages[index].name, ref.lowercased() == name {
                            throw fail(instruction.line, "COPY --from=\(from) refers to its own stage",
                                       "Copy from an earlier stage or an image.")
                        }
                        stages[index].copySources.append(
                            try resolve(ref, before: index, line: instruction.line, what: "COPY --from=\(from)"))
                    }
                case .run(let run):
                    for mount in run.mounts {
                        // `--mount=type=bind,from=stage` reads from a stage or image too.
                        for field in mount.split(separator: ",") where field.hasPrefix("from=") {
                            let ref = try expand(String(field.dropFirst(5)), env: stageEnv, line: instruction.line)
                            stages[index].copySources.append(
                                try resolve(ref, before: index, line: instruction.line, what: "RUN --mount from=\(ref)"))
                        }
                    }
                default:
                    break
                }
            }
        }
        guard !stages.isEmpty else {
            throw DockerfileError(file: dockerfile.file, line: 1, message: "no FROM instruction: the Dockerfile has no build stage",
                                  hint: "Add 'FROM <image>'.")
        }
        self.stages = stages
        self.metaArgs = meta
    }

    /// The stage a target names (nil: the last stage).
    public func stage(named target: String?) throws(DockerfileError) -> Stage {
        guard let target else {
            guard let last = stages.last else {
                throw DockerfileError(file: file, message: "no build stage")
            }
            return last
        }
        if let stage = stages.first(where: { $0.name == target.lowercased() }) { return stage }
        let names = stages.compactMap(\.name)
        throw DockerfileError(file: file, message: "target stage \(goQuote(target)) could not be found",
                              hint: names.isEmpty ? "This Dockerfile names no stages (FROM … AS <name>)."
                                                  : "Stages: \(names.joined(separator: ", ")).")
    }

    /// The stages building `target` needs, in build order (dependencies first), target last.
    public func stagesNeeded(target: String?) throws(DockerfileError) -> [Stage] {
        let goal = try stage(named: target)
        var needed: Set<Int> = []
        var queue = [goal.index]
        while let i = queue.popLast() {
            guard needed.insert(i).inserted else { continue }
            queue.append(contentsOf: stages[i].dependencies)
        }
        return needed.sorted().map { stages[$0] }
    }

    /// External images the whole file refers to (FROM and COPY --from), in first-use order.
    public var baseImages: [String] {
        imagesOf(stages)
    }

    /// External images the stages for `target` refer to.
    public func baseImages(target: String?) throws(DockerfileError) -> [String] {
        imagesOf(try stagesNeeded(target: target))
    }

    private func imagesOf(_ list: [Stage]) -> [String] {
        var result: [String] = []
        for stage in list {
            for image in stage.images where !result.contains(image) { result.append(image) }
        }
        return result
    }
}

/// A quick check of an image reference's shape (the registry client validates fully); catches
/// the usual results of unset ARGs such as `name:` or `-debug`.
func referenceProblem(_ ref: String) -> String? {
    if ref.contains(where: { $0.isWhitespace }) { return "it contains whitespace" }
    if ref.hasSuffix(":") || ref.hasSuffix("@") || ref.hasSuffix("/") { return "it ends with '\(ref.last ?? " ")'" }
    if ref.hasPrefix("/") || ref.hasPrefix(":") || ref.hasPrefix("-") || ref.hasPrefix(".") { return "it starts with '\(ref.first ?? " ")'" }
    var repository = Substring(ref)
    if let at = repository.firstIndex(of: "@") { repository = repository[..<at] }
    if let lastSlash = repository.lastIndex(of: "/"), let colon = repository[lastSlash...].firstIndex(of: ":") {
        repository = repository[..<colon]
    } else if !repository.contains("/"), let colon = repository.firstIndex(of: ":") {
        repository = repository[..<colon]
    }
    // The first component may be a registry host, which may hold uppercase letters.
    let path = repository.contains("/") ? repository.drop { $0 != "/" } : repository
    if path.contains(where: { $0.isUppercase }) { return "repository names must be lowercase" }
    return nil
}
