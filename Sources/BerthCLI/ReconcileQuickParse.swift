import ArgumentParser

/// `berth reconcile`'s command line read without ArgumentParser, for the common spellings.
///
/// ArgumentParser builds a command by reflection: `Mirror` over every property wrapper, type
/// look-ups by mangled name and protocol-conformance scans over the whole binary (10,500
/// records, ~0.3 M instructions a scan). For `reconcile` that was 30 M of a no-op run's 80 M,
/// all of it on the path before the compose file could load. A reconcile that finds nothing to
/// do is what `berth serve` and CI call most, so its command line is read here first.
///
/// This reads a command line only when each argument is one listed below, spelled as
/// `--name value`, `--name=value` or `-f value` / `-p value`. Each single-value option and
/// flag appears at most once, and no value is empty or starts with `-`. Anything else returns nil and
/// goes to ArgumentParser, which also words every error and all help. `QuickParseTests`
/// checks, over generated command lines, that whatever this accepts ArgumentParser parses to
/// the same values, and that a property added to the command is not silently left unset.
extension ReconcileCommand {
    private enum Slot: Hashable {
        case file, projectName, projectDirectory, envFile, profile, repo, ref, app, stateDir
        case output, release, timeout, parallel, settle
    }

    private static let slots: [String: Slot] = [
        "-f": .file, "--file": .file, "-p": .projectName, "--project-name": .projectName,
        "--project-directory": .projectDirectory, "--env-file": .envFile, "--profile": .profile,
        "--repo": .repo, "--ref": .ref, "--app": .app, "--state-dir": .stateDir,
        "--output": .output, "--release": .release, "--timeout": .timeout, "--wait-timeout": .timeout,
        "--parallel": .parallel, "--settle": .settle,
    ]
    private static let repeatable: Set<Slot> = [.file, .envFile, .profile, .app]
    private static let flags: Set<String> = ["--dry-run", "--exit-code", "--prune", "--no-prune", "--prune-volumes", "--swarm"]

    /// The command `arguments` (without the executable's path) name, if they are a reconcile
    /// read here and it validates; nil sends them to ArgumentParser.
    static func quickParse(_ arguments: [String]) -> ReconcileCommand? {
        var rest = arguments[...]
        guard rest.popFirst() == configuration.commandName else { return nil }
        var values: [Slot: [String]] = [:]
        var given: Set<String> = []
        var services: [String] = []
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-") else {
                services.append(argument)
                continue
            }
            if flags.contains(argument) {
                guard given.insert(argument).inserted else { return nil }
                continue
            }
            let name: String
            let value: String
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            } else {
                guard let next = rest.popFirst(), !next.hasPrefix("-") else { return nil }
                name = argument
                value = next
            }
            guard let slot = slots[name], !value.isEmpty else { return nil }
            values[slot, default: []].append(value)
            guard repeatable.contains(slot) || values[slot]?.count == 1 else { return nil }
        }
        guard !(given.contains("--prune") && given.contains("--no-prune")) else { return nil }

        var project = ProjectArguments()
        project.files = values[.file] ?? []
        project.projectName = values[.projectName]?.first
        project.projectDirectory = values[.projectDirectory]?.first
        project.envFiles = values[.envFile] ?? []
        project.profiles = values[.profile] ?? []
        var source = RepoArguments()
        source.repo = values[.repo]?.first
        source.ref = values[.ref]?.first
        source.apps = values[.app] ?? []
        source.stateDir = values[.stateDir]?.first

        var command = ReconcileCommand()
        command.project = project
        command.source = source
        command.dryRun = given.contains("--dry-run")
        command.exitCode = given.contains("--exit-code")
        command.prune = given.contains("--prune") ? true : given.contains("--no-prune") ? false : nil
        command.pruneVolumes = given.contains("--prune-volumes")
        command.swarm = given.contains("--swarm")
        command.release = values[.release]?.first
        command.services = services
        guard let output = convert(values[.output], OutputFormat.init(rawValue:), default: Defaults.output),
              let timeout = convert(values[.timeout], Int.init, default: Defaults.timeout),
              let parallel = convert(values[.parallel], Int.init, default: Defaults.parallel),
              let settle = convert(values[.settle], Double.init, default: Defaults.settle)
        else { return nil }
        command.output = output
        command.timeout = timeout
        command.parallel = parallel
        command.settle = settle
        guard (try? command.validate()) != nil else { return nil }
        return command
    }

    /// The option's value read as ArgumentParser reads it (the type's `init?(_: String)`), its
    /// default when not given; nil when it does not read, for ArgumentParser to word the error.
    private static func convert<Value>(_ values: [String]?, _ read: (String) -> Value?, default value: Value) -> Value? {
        guard let text = values?.first else { return value }
        return read(text)
    }
}
