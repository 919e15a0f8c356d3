@testable import BerthCLI
import Testing

/// The raw-argument guess behind `reconcile -p NAME`'s early engine reads: it must understand
/// what ArgumentParser will, or give up; never name another project.
@Suite struct EarlyStartTests {
    @Test func readsTheProjectNameAndTarget() {
        #expect(EarlyStart.guess(["reconcile", "--swarm", "-p", "edge", "-f", "stack.yaml"])
                == EarlyStart.Guess(projectName: "edge", swarm: true))
        #expect(EarlyStart.guess(["reconcile", "--project-name=shop", "web", "--dry-run", "--output", "json"])
                == EarlyStart.Guess(projectName: "shop", swarm: false))
        #expect(EarlyStart.guess(["reconcile", "-f", "a.yaml", "--file=b.yaml", "--timeout", "30"]) == EarlyStart.Guess())
    }

    @Test(arguments: [
        ["config", "-p", "x"], ["reconcile", "-p"], ["reconcile", "-p", "-f"], ["reconcile", "--help"],
        ["reconcile", "-p", "x", "--repo", "git://h/r"], ["reconcile", "-px"], ["reconcile", "--bogus", "1", "-p", "x"], [],
    ])
    func givesUpOnAnythingElse(_ arguments: [String]) {
        #expect(EarlyStart.guess(arguments) == nil)
    }
}
