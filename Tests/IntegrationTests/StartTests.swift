import ArgumentParser
import BerthCLI
import CBerthStart
import Glibc
import Testing

/// berth_start.c decides before `main`, from argv alone, whether a command will make requests
/// and so should start loading libcurl. It names the commands that do not; this keeps that list
/// in step with the command tree.
@Suite struct StartTests {
    private func needsCurl(_ arguments: [String]) -> Bool {
        var storage = (["berth"] + arguments).map { strdup($0) }
        defer { storage.forEach { free($0) } }
        return storage.withUnsafeMutableBufferPointer { buffer in
            berth_start_needs_curl(Int32(buffer.count), buffer.baseAddress) != 0
        }
    }

    @Test func everySubcommandButConfigAndServeLoadsLibcurl() {
        let names = Berth.configuration.subcommands.map { $0._commandName }
        #expect(names.contains("reconcile") && names.contains("config") && names.contains("serve"))
        for name in names {
            #expect(needsCurl([name]) == !["config", "serve"].contains(name), "berth \(name)")
        }
    }

    @Test func optionsBeforeTheCommandAreSkippedAndNoCommandLoadsNothing() {
        #expect(needsCurl(["--log-level", "reconcile"]))
        #expect(!needsCurl(["--version"]))
        #expect(!needsCurl([]))
        #expect(!needsCurl(["help", "reconcile"]))
        #expect(needsCurl(["reconcile", "--swarm", "-f", "config"]))
    }
}
