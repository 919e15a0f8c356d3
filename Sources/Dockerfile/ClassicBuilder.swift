// What the engine's classic builder (POST /build without BuildKit, Docker 20.10) refuses.
// Berth builds with that builder, so these are reported before a build is attempted, all at
// once, each with its line.

/// One construct the classic builder rejects.
public struct ClassicBuilderFinding: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The construct, e.g. `RUN --mount` or `heredoc`.
    public var construct: String
    public var message: String
    public var hint: String

    public var description: String { "\(file):\(line): \(message)\n  \(hint)" }

    /// The finding as an error, for callers that stop at the first one.
    public var error: DockerfileError { DockerfileError(file: file, line: line, message: message, hint: hint) }
}

extension Dockerfile {
    /// Every instruction using a BuildKit-only feature the classic builder refuses, in line order.
    public func validateForClassicBuilder() -> [ClassicBuilderFinding] {
        var findings: [ClassicBuilderFinding] = []
        for instruction in instructions {
            check(instruction, prefix: "", into: &findings)
        }
        return findings
    }

    /// Throws the findings of `validateForClassicBuilder()` as one error naming all of them.
    public func requireClassicBuilderCompatible() throws(DockerfileError) {
        let findings = validateForClassicBuilder()
        guard let first = findings.first else { return }
        if findings.count == 1 { throw first.error }
        let lines = findings.map { "\($0.file):\($0.line): \($0.message)" }.joined(separator: "\n  ")
        throw DockerfileError(file: file, line: first.line,
                              message: "\(findings.count) constructs need BuildKit, which the engine's classic builder (used by Berth) does not run:\n  \(lines)",
                              hint: first.hint)
    }

    private func check(_ instruction: Instruction, prefix: String, into findings: inout [ClassicBuilderFinding]) {
        let name = prefix + instruction.keyword.uppercased()
        func add(_ construct: String, _ what: String, _ hint: String) {
            findings.append(ClassicBuilderFinding(
                file: file, line: instruction.line, construct: construct,
                message: "\(what) needs BuildKit; the engine's classic builder (used by Berth) rejects it",
                hint: hint))
        }
        if !instruction.heredocs.isEmpty {
            let names = instruction.heredocs.map { "<<" + $0.name }.joined(separator: ", ")
            add("heredoc", "\(name) with a heredoc (\(names))",
                instruction.keyword == "run"
                    ? "Write the script to a file in the build context and COPY it, or use 'RUN a && b' with line continuations."
                    : "Put the content in a file in the build context and COPY that file.")
        }
        switch instruction.command {
        case .run(let run):
            if !run.mounts.isEmpty {
                add("RUN --mount", "\(name) --mount",
                    "Remove --mount: COPY what the step needs into the image first (use a separate stage to keep it out of the final image).")
            }
            if run.network != nil {
                add("RUN --network", "\(name) --network",
                    "Remove --network; the classic builder runs every step on the default network.")
            }
            if run.security != nil {
                add("RUN --security", "\(name) --security", "Remove --security.")
            }
        case .copy(let copy), .add(let copy):
            if copy.chmod != nil {
                add("\(instruction.keyword.uppercased()) --chmod", "\(name) --chmod",
                    "Remove --chmod and set the mode in the build context (git keeps the executable bit), or add 'RUN chmod …' after the copy.")
            }
            if instruction.flags.contains("link") {
                add("\(instruction.keyword.uppercased()) --link", "\(name) --link", "Remove --link; the result is the same without it.")
            }
            if copy.checksum != nil {
                add("ADD --checksum", "\(name) --checksum",
                    "Remove --checksum and verify the download in a RUN step (e.g. sha256sum -c).")
            }
            if instruction.flags.contains("parents") {
                add("\(instruction.keyword.uppercased()) --parents", "\(name) --parents",
                    "Remove --parents and copy each directory to its full destination path.")
            }
            if !copy.excludes.isEmpty {
                add("\(instruction.keyword.uppercased()) --exclude", "\(name) --exclude",
                    "Remove --exclude and list the files to leave out in .dockerignore.")
            }
            if instruction.flags.contains("keep-git-dir") {
                add("ADD --keep-git-dir", "\(name) --keep-git-dir", "Remove --keep-git-dir; clone with git in a RUN step instead.")
            }
        case .onbuild(let trigger):
            check(trigger, prefix: "ONBUILD ", into: &findings)
        default:
            break
        }
    }
}
