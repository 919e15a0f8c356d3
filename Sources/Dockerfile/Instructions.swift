import Interpolation
// The instruction layer: each syntax node given its meaning, with the checks BuildKit's
// `instructions` package makes (argument counts, known flags and their types, ONBUILD rules).

/// A parsed and checked Dockerfile.
public struct Dockerfile: Sendable, Equatable {
    /// The name used in messages (`file:line: …`).
    public var file: String
    /// The instructions in source order, each with its line numbers.
    public var instructions: [Instruction]
    /// `syntax`, `escape` and `check` parser directives with their values.
    public var directives: [String: String]
    /// The escape character in effect.
    public var escapeToken: Character
    /// The raw syntax tree, for dumping.
    public var syntax: SyntaxTree

    /// Parses and checks Dockerfile text. Errors say `file:line: message` and what to do.
    public static func parse(_ text: String, file: String = "Dockerfile") throws(DockerfileError) -> Dockerfile {
        let tree = try SyntaxTree.parse(text, file: file)
        var instructions: [Instruction] = []
        var seenFrom = false
        for node in tree.nodes {
            let instruction: Instruction
            do {
                instruction = try Instruction(node: node)
            } catch let e {
                throw e.located(file: file, line: node.startLine)
            }
            if case .from = instruction.command { seenFrom = true }
            if !seenFrom, instruction.keyword != "arg" {
                throw DockerfileError(
                    file: file, line: node.startLine,
                    message: "no build stage in current context: \(instruction.keyword.uppercased()) comes before the first FROM",
                    hint: "Put a FROM line first; only ARG may come before the first FROM.")
            }
            instructions.append(instruction)
        }
        return Dockerfile(file: file, instructions: instructions, directives: tree.directives,
                          escapeToken: tree.escapeToken, syntax: tree)
    }

    /// A shell-word lexer using this file's escape character.
    public var lexer: ShellLex { ShellLex(escapeToken: escapeToken) }
}

/// One `--name[=value]` flag.
public struct Flag: Sendable, Equatable {
    public var name: String
    /// nil when written without `=` (a boolean flag).
    public var value: String?
}

/// The flags of one instruction, checked against what that instruction accepts.
public struct InstructionFlags: Sendable, Equatable {
    public var all: [Flag]

    public func contains(_ name: String) -> Bool { all.contains { $0.name == name } }
    /// The value of a single-valued flag.
    public func value(_ name: String) -> String? { all.last { $0.name == name }?.value }
    /// Every value of a repeatable flag (`--mount`, `--exclude`).
    public func values(_ name: String) -> [String] { all.filter { $0.name == name }.compactMap(\.value) }
    /// A boolean flag: present without value or `=true`.
    public func bool(_ name: String) -> Bool {
        guard let flag = all.last(where: { $0.name == name }) else { return false }
        return flag.value.map { $0.lowercased() == "true" } ?? true
    }
}

/// A command line in exec form (JSON array) or shell form.
public enum CommandLine: Sendable, Equatable {
    case exec([String])
    case shell(String)
}

/// `name=value` of ENV and LABEL, as written (expand with `ShellLex.processWord`).
public struct KeyValue: Sendable, Equatable {
    public var key: String
    public var value: String
}

/// `ARG name[=default]`; the default as written (quotes not yet removed).
public struct ArgDeclaration: Sendable, Equatable {
    public var name: String
    public var defaultValue: String?
}

public struct FromCommand: Sendable, Equatable {
    /// The image reference as written (may hold `${ARG}` references).
    public var image: String
    /// `AS name`, lowercased.
    public var stageName: String?
    public var platform: String?
}

public struct RunCommand: Sendable, Equatable {
    public var command: CommandLine
    public var mounts: [String]
    public var network: String?
    public var security: String?
    public var heredocs: [Heredoc]
}

/// COPY and ADD.
public struct CopyCommand: Sendable, Equatable {
    public var sources: [String]
    public var destination: String
    public var from: String?
    public var chown: String?
    public var chmod: String?
    public var link: Bool
    public var parents: Bool
    public var excludes: [String]
    /// ADD only.
    public var checksum: String?
    /// ADD only.
    public var keepGitDir: Bool
    public var heredocs: [Heredoc]
}

public struct HealthcheckCommand: Sendable, Equatable {
    /// nil for `HEALTHCHECK NONE`.
    public var test: CommandLine?
    public var interval: Duration?
    public var timeout: Duration?
    public var startPeriod: Duration?
    public var startInterval: Duration?
    public var retries: Int?
}

/// What an instruction means.
public indirect enum Command: Sendable, Equatable {
    case from(FromCommand)
    case arg([ArgDeclaration])
    case env([KeyValue])
    case label([KeyValue])
    case run(RunCommand)
    case cmd(CommandLine)
    case entrypoint(CommandLine)
    case shell([String])
    case copy(CopyCommand)
    case add(CopyCommand)
    case workdir(String)
    case user(String)
    case volume([String])
    case expose([String])
    case stopSignal(String)
    case healthcheck(HealthcheckCommand)
    case onbuild(Instruction)
    case maintainer(String)
}

/// One instruction with its meaning and where it is.
public struct Instruction: Sendable, Equatable {
    public var node: SyntaxNode
    public var flags: InstructionFlags
    public var command: Command

    /// Lowercased keyword (`from`, `run`, …).
    public var keyword: String { node.keyword }
    /// 1-based first line.
    public var line: Int { node.startLine }
    /// 1-based last line, heredoc bodies included.
    public var endLine: Int { node.endLine }
    public var heredocs: [Heredoc] { node.heredocs }

    init(node: SyntaxNode) throws(DockerfileError) {
        self.node = node
        let name = node.keyword.uppercased()
        guard let spec = flagSpecs[node.keyword] else {
            let suggestion = suggestKeyword(node.keyword).map { " Did you mean \($0)?" } ?? ""
            throw DockerfileError(message: "unknown instruction: \(name)",
                                  hint: "Check the spelling of the instruction.\(suggestion)")
        }
        flags = try parseFlags(node.flags, spec: spec, instruction: name)
        let args = node.args
        func atLeast(_ n: Int, _ what: String = "argument") throws(DockerfileError) {
            guard args.count >= n else {
                throw DockerfileError(message: "\(name) requires at least \(n == 1 ? "one" : "two") \(what)\(n == 1 ? "" : "s")",
                                      hint: "See the \(name) reference: https://docs.docker.com/reference/dockerfile/#\(node.keyword)")
            }
        }
        func exactlyOne() throws(DockerfileError) -> String {
            guard args.count == 1 else {
                throw DockerfileError(message: "\(name) requires exactly one argument",
                                      hint: "Write '\(name) <value>'.")
            }
            return args[0]
        }
        func commandLine() -> CommandLine {
            node.isJSON ? .exec(args) : .shell(args.joined(separator: " "))
        }
        func keyValues() throws(DockerfileError) -> [KeyValue] {
            try atLeast(1)
            var pairs: [KeyValue] = []
            var i = 0
            while i + 1 < args.count {
                if args[i].isEmpty {
                    throw DockerfileError(message: "\(name) names can not be blank",
                                          hint: "Write '\(name) name=value'.")
                }
                pairs.append(KeyValue(key: args[i], value: args[i + 1]))
                i += 3
            }
            return pairs
        }

        switch node.keyword {
        case "from":
            guard args.count == 1 || (args.count == 3 && args[1].lowercased() == "as") else {
                throw DockerfileError(message: "FROM requires either one or three arguments",
                                      hint: "Write 'FROM <image> [AS <name>]'.")
            }
            var stage: String?
            if args.count == 3 {
                let stageName = args[2].lowercased()
                guard isValidStageName(stageName) else {
                    throw DockerfileError(
                        message: "invalid name for build stage: \(goQuote(args[2])), name can't start with a number or contain symbols",
                        hint: "Use letters, digits, '-', '_' and '.', starting with a letter.")
                }
                stage = stageName
            }
            command = .from(FromCommand(image: args[0], stageName: stage, platform: flags.value("platform")))
        case "arg":
            try atLeast(1)
            var decls: [ArgDeclaration] = []
            for word in args {
                if let eq = word.firstIndex(of: "=") {
                    let key = String(word[..<eq])
                    guard !key.isEmpty else {
                        throw DockerfileError(message: "ARG names can not be blank", hint: "Write 'ARG name[=default]'.")
                    }
                    decls.append(ArgDeclaration(name: key, defaultValue: String(word[word.index(after: eq)...])))
                } else {
                    decls.append(ArgDeclaration(name: word, defaultValue: nil))
                }
            }
            command = .arg(decls)
        case "env":
            command = .env(try keyValues())
        case "label":
            command = .label(try keyValues())
        case "run":
            try atLeast(1)
            command = .run(RunCommand(command: commandLine(), mounts: flags.values("mount"),
                                      network: flags.value("network"), security: flags.value("security"),
                                      heredocs: node.heredocs))
        case "cmd":
            command = .cmd(commandLine())
        case "entrypoint":
            command = .entrypoint(commandLine())
        case "shell":
            try atLeast(1)
            guard node.isJSON else {
                throw DockerfileError(message: "SHELL requires the arguments to be in JSON form",
                                      hint: "Write SHELL [\"/bin/sh\", \"-c\"].")
            }
            command = .shell(args)
        case "copy", "add":
            guard args.count >= 2 else {
                throw DockerfileError(
                    message: "\(name) requires at least two arguments, but only \(args.count == 1 ? "one was" : "none were") provided. Destination could not be determined.",
                    hint: "Write '\(name) <source>... <destination>'.")
            }
            let copy = CopyCommand(sources: Array(args.dropLast()), destination: args[args.count - 1],
                                   from: flags.value("from"), chown: flags.value("chown"),
                                   chmod: flags.value("chmod"), link: flags.bool("link"),
                                   parents: flags.bool("parents"), excludes: flags.values("exclude"),
                                   checksum: flags.value("checksum"), keepGitDir: flags.bool("keep-git-dir"),
                                   heredocs: node.heredocs)
            command = node.keyword == "copy" ? .copy(copy) : .add(copy)
        case "workdir":
            command = .workdir(try exactlyOne())
        case "user":
            command = .user(try exactlyOne())
        case "stopsignal":
            command = .stopSignal(try exactlyOne())
        case "maintainer":
            command = .maintainer(try exactlyOne())
        case "volume":
            try atLeast(1)
            for v in args where v.allSatisfy({ $0.isWhitespace }) {
                throw DockerfileError(message: "VOLUME specified can not be an empty string",
                                      hint: "Give a path, e.g. VOLUME /data.")
            }
            command = .volume(args)
        case "expose":
            try atLeast(1)
            command = .expose(args)
        case "healthcheck":
            command = .healthcheck(try parseHealthcheck(args: args, isJSON: node.isJSON, flags: flags))
        case "onbuild":
            guard let child = node.children.first else {
                throw DockerfileError(message: "ONBUILD requires at least one argument",
                                      hint: "Write 'ONBUILD <instruction>'.")
            }
            switch child.keyword {
            case "onbuild":
                throw DockerfileError(message: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                                      hint: "Use a single ONBUILD.")
            case "from", "maintainer":
                throw DockerfileError(message: "\(child.keyword.uppercased()) isn't allowed as an ONBUILD trigger",
                                      hint: "Move it out of the ONBUILD.")
            default:
                break
            }
            var trigger = child
            trigger.startLine = node.startLine
            trigger.endLine = node.endLine
            trigger.heredocs = node.heredocs
            command = .onbuild(try Instruction(node: trigger))
        default:
            // Every keyword in flagSpecs is handled above.
            throw DockerfileError(message: "unknown instruction: \(name)")
        }
    }
}

enum FlagKind { case string, strings, bool }

private let durationFlags: [String: FlagKind] = [
    "interval": .string, "timeout": .string, "start-period": .string, "start-interval": .string, "retries": .string,
]

let flagSpecs: [String: [String: FlagKind]] = [
    "from": ["platform": .string],
    "run": ["mount": .strings, "network": .string, "security": .string],
    "copy": ["from": .string, "chown": .string, "chmod": .string, "link": .bool, "parents": .bool, "exclude": .strings],
    "add": ["chown": .string, "chmod": .string, "link": .bool, "checksum": .string, "keep-git-dir": .bool,
            "parents": .bool, "exclude": .strings],
    "healthcheck": durationFlags,
    "arg": [:], "env": [:], "label": [:], "cmd": [:], "entrypoint": [:], "shell": [:], "workdir": [:],
    "user": [:], "volume": [:], "expose": [:], "stopsignal": [:], "onbuild": [:], "maintainer": [:],
]

func parseFlags(_ words: [String], spec: [String: FlagKind], instruction: String) throws(DockerfileError) -> InstructionFlags {
    var flags: [Flag] = []
    var used: Set<String> = []
    for word in words {
        guard word.hasPrefix("--") else {
            throw DockerfileError(message: "arg should start with -- : \(word)")
        }
        var name = String(word.dropFirst(2))
        var value: String?
        if let eq = name.firstIndex(of: "=") {
            value = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        guard let kind = spec[name] else {
            let known = spec.keys.sorted().map { "--\($0)" }
            let hint = known.isEmpty
                ? "\(instruction) takes no flags."
                : "\(instruction) accepts \(known.joined(separator: ", "))."
            throw DockerfileError(message: "unknown flag: --\(name) on \(instruction)", hint: hint)
        }
        if used.contains(name) && kind != .strings {
            throw DockerfileError(message: "duplicate flag specified: --\(name)",
                                  hint: "Give --\(name) once.")
        }
        used.insert(name)
        switch kind {
        case .bool:
            if let v = value {
                guard ["true", "false"].contains(v.lowercased()) else {
                    throw DockerfileError(
                        message: v.isEmpty ? "missing a value on flag: --\(name)"
                                           : "expecting boolean value for flag --\(name), not: \(v)",
                        hint: "Write --\(name) or --\(name)=true|false.")
                }
            }
        case .string, .strings:
            guard value != nil else {
                throw DockerfileError(message: "missing a value on flag: --\(name)",
                                      hint: "Write --\(name)=<value>.")
            }
        }
        flags.append(Flag(name: name, value: value))
    }
    return InstructionFlags(all: flags)
}

private func parseHealthcheck(args: [String], isJSON: Bool, flags: InstructionFlags) throws(DockerfileError) -> HealthcheckCommand {
    guard let first = args.first else {
        throw DockerfileError(message: "HEALTHCHECK requires at least one argument",
                              hint: "Write 'HEALTHCHECK [options] CMD <command>' or 'HEALTHCHECK NONE'.")
    }
    switch first.uppercased() {
    case "NONE":
        guard args.count == 1 else {
            throw DockerfileError(message: "HEALTHCHECK NONE takes no arguments", hint: "Write just 'HEALTHCHECK NONE'.")
        }
        return HealthcheckCommand(test: nil)
    case "CMD":
        let rest = Array(args.dropFirst())
        guard !rest.isEmpty else {
            throw DockerfileError(message: "Missing command after HEALTHCHECK CMD",
                                  hint: "Write 'HEALTHCHECK CMD <command>'.")
        }
        var check = HealthcheckCommand(test: isJSON ? .exec(rest) : .shell(rest.joined(separator: " ")))
        func interval(_ flag: String) throws(DockerfileError) -> Duration? {
            guard let text = flags.value(flag), !text.isEmpty else { return nil }
            guard let d = parseGoDuration(text) else {
                throw DockerfileError(message: "invalid duration \(goQuote(text)) for --\(flag)",
                                      hint: "Use a Go duration such as 30s, 1m30s or 500ms.")
            }
            if d != .zero && d < .milliseconds(1) {
                throw DockerfileError(message: "Interval \"\(flag)\" cannot be less than 1ms",
                                      hint: "Use 0 (the default) or at least 1ms.")
            }
            if d < .zero {
                throw DockerfileError(message: "Interval \"\(flag)\" cannot be negative")
            }
            return d
        }
        check.interval = try interval("interval")
        check.timeout = try interval("timeout")
        check.startPeriod = try interval("start-period")
        check.startInterval = try interval("start-interval")
        if let text = flags.value("retries"), !text.isEmpty {
            guard let n = Int(text) else {
                throw DockerfileError(message: "invalid --retries value \(goQuote(text))", hint: "Give a whole number.")
            }
            guard n >= 0 else {
                throw DockerfileError(message: "--retries cannot be negative (\(n))", hint: "Give 0 or more.")
            }
            check.retries = n
        }
        return check
    default:
        throw DockerfileError(message: "Unknown type \(goQuote(first)) in HEALTHCHECK (try CMD)",
                              hint: "Write 'HEALTHCHECK CMD <command>' or 'HEALTHCHECK NONE'.")
    }
}

/// Go's `time.ParseDuration`: `[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)`… or `0`.
func parseGoDuration(_ text: String) -> Duration? {
    var s = Substring(text)
    var negative = false
    if s.first == "-" || s.first == "+" { negative = s.first == "-"; s = s.dropFirst() }
    if s == "0" { return .zero }
    if s.isEmpty { return nil }
    var total = 0.0
    let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6),
                                     ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
    while !s.isEmpty {
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
        s = s.dropFirst(number.count)
        guard let unit = units.filter({ s.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else { return nil }
        s = s.dropFirst(unit.0.count)
        total += value * unit.1
    }
    let nanos = Int64(total.rounded())
    return .nanoseconds(negative ? -nanos : nanos)
}

func isValidStageName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
    return name.unicodeScalars.allSatisfy {
        ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
    }
}

private func suggestKeyword(_ word: String) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    let candidates = flagSpecs.keys.map { ($0, distance(Array(word), Array($0))) }
    guard let best = candidates.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }), best.1 <= 2 else { return nil }
    return best.0.uppercased()
}
