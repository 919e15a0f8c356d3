import ArgumentParser
@testable import BerthCLI
import Testing

/// `ReconcileCommand.quickParse` reads `berth reconcile`'s common command lines without
/// ArgumentParser. Whatever it accepts, ArgumentParser must parse to the same values; anything
/// else it must leave to ArgumentParser.
@Suite struct QuickParseTests {
    /// Every value of the command, read through its property wrappers (a wrapper left unset
    /// would stop the test here).
    static func values(_ c: ReconcileCommand) -> [String] {
        [
            "files \(c.project.files)", "project \(c.project.projectName ?? "-")", "directory \(c.project.projectDirectory ?? "-")",
            "env \(c.project.envFiles)", "profiles \(c.project.profiles)",
            "repo \(c.source.repo ?? "-")", "ref \(c.source.ref ?? "-")", "apps \(c.source.apps)", "state \(c.source.stateDir ?? "-")",
            "dry \(c.dryRun)", "exit \(c.exitCode)", "output \(c.output)", "prune \(c.prune.map(String.init) ?? "-")",
            "volumes \(c.pruneVolumes)", "release \(c.release ?? "-")", "timeout \(c.timeout)", "parallel \(c.parallel)",
            "settle \(c.settle)", "swarm \(c.swarm)", "services \(c.services)",
        ]
    }

    /// Argument groups, valid and not, combined below into command lines of up to three.
    static let vocabulary: [[String]] = [
        ["--swarm"], ["--dry-run"], ["--exit-code"], ["--prune"], ["--no-prune"], ["--prune-volumes"],
        ["-f", "a.yaml"], ["--file", "b.yaml"], ["--file=c.yaml"], ["--file="], ["-f", ""], ["-p", "shop"], ["--project-name=edge"],
        ["--project-directory", "/srv"], ["--env-file", ".env"], ["--profile", "debug"],
        ["--output", "json"], ["--output=text"], ["--output", "xml"], ["--timeout", "30"], ["--wait-timeout=5"],
        ["--timeout", "0"], ["--timeout", "abc"], ["--timeout=+7"], ["--parallel", "4"], ["--parallel", "0"],
        ["--settle", "0.5"], ["--settle", "1e3"], ["--release", "r.json"], ["--repo", "git://h/r"], ["--ref", "main"],
        ["--app", "web"], ["--state-dir", "/tmp/s"], ["web"], ["help"], ["--"], ["-h"], ["--help"], ["--version"],
        ["-px"], ["-f"], ["-p", "-f"], ["--bogus"], ["--dry-run=true"], ["-f=a.yaml"],
    ]

    @Test func agreesWithArgumentParserOnEveryShortCommandLine() throws {
        // Every line of up to two groups, and every 29th of three (ArgumentParser takes
        // milliseconds a line in a debug build; all 97,000 took minutes).
        let one = Self.vocabulary
        let two = one.flatMap { line in Self.vocabulary.map { line + $0 } }
        let three = two.flatMap { line in Self.vocabulary.map { line + $0 } }
        let lines = [[]] + one + two + stride(from: 0, to: three.count, by: 29).map { three[$0] }
        var accepted = 0
        for line in lines {
            let arguments = ["reconcile"] + line
            guard let quick = ReconcileCommand.quickParse(arguments) else { continue }
            accepted += 1
            let full = try? ReconcileCommand.parse(Array(arguments.dropFirst()))
            #expect(full.map(Self.values) == Self.values(quick), "\(arguments)")
        }
        // Most valid lines are read here, or the fast path has quietly stopped working.
        #expect(lines.count > 5_000)
        #expect(accepted > 1_000, "\(accepted) of \(lines.count) accepted")
    }

    @Test func readsTheBenchmarkedCommandLine() throws {
        let command = try #require(ReconcileCommand.quickParse(["reconcile", "--swarm", "-p", "edge", "-f", "stack.yaml"]))
        #expect(command.swarm && command.project.projectName == "edge" && command.project.files == ["stack.yaml"])
        #expect(command.timeout == 120 && command.parallel == 32 && command.settle == 1 && command.output == .text)
    }

    @Test(arguments: [
        ["config", "-p", "x"], ["reconcile", "-p"], ["reconcile", "-p", "-f"], ["reconcile", "--help"], ["reconcile", "-h"],
        ["reconcile", "-px"], ["reconcile", "--bogus", "1"], ["reconcile", "-p", "a", "-p", "b"], ["reconcile", "--swarm", "--swarm"],
        ["reconcile", "--prune", "--no-prune"], ["reconcile", "--", "web"], ["reconcile", "--timeout", "0"],
        ["reconcile", "--repo", "git://h/r", "-f", "a.yaml"], ["reconcile", "--app", "web"], ["reconcile", "--output", "yaml"], [],
    ])
    func leavesTheRestToArgumentParser(_ arguments: [String]) {
        #expect(ReconcileCommand.quickParse(arguments) == nil)
    }

    /// A property added to the command must be set by `quickParse` (and listed in `values`):
    /// ArgumentParser stops the process when an unset one is read.
    @Test func knowsEveryProperty() {
        #expect(Mirror(reflecting: ReconcileCommand()).children.count == 13)
        #expect(Mirror(reflecting: ProjectArguments()).children.count == 5)
        #expect(Mirror(reflecting: RepoArguments()).children.count == 4)
    }
}
