import ArgumentParser
import FoundationEssentials
import Glibc

/// One line on `berth serve`, for `berth --help` and berth-serve's own help.
package let serveAbstract = "Keep this host converged to a GitOps repo: poll, webhook, self-heal, HTTP API."

/// `berth serve` in `berth --help`. The server is its own executable, `berth-serve`, installed
/// beside `berth`: its HTTP stack (NIO, Hummingbird), SQLite and their C code made up a third of
/// the binary, which every other command relocated and scanned at each start without using.
/// `berth serve ARGS` execs `berth-serve ARGS` before anything else runs (`Berth.run`), so this
/// type only describes the command; its options and help are `berth-serve`'s.
struct ServeLauncher: ParsableCommand {
    static let commandName = "serve"

    static let configuration = CommandConfiguration(
        commandName: commandName, abstract: serveAbstract,
        discussion: "Runs berth-serve, installed beside berth. `berth serve --help` shows its options.")

    @Argument(parsing: .captureForPassthrough, help: "Options of berth-serve.")
    var arguments: [String] = []

    func run() throws { try Self.exec(arguments) }

    static let executableName = "berth-serve"

    /// Replaces this process with `berth-serve`: the one beside this executable, else the first
    /// on PATH. Returns only by throwing.
    static func exec(_ arguments: [String]) throws -> Never {
        guard let path = locate() else {
            throw CLIError("""
                berth serve runs \(executableName), which is neither beside \(ownPath() ?? "this berth") nor on PATH; \
                install it with berth (both come from one build: swift build --product \(executableName); \
                the Dockerfile installs both)
                """)
        }
        fflush(nil)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        let reason = String(cString: strerror(errno))
        throw CLIError("cannot run \(path): \(reason)")
    }

    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        var candidates: [String] = []
        if let own = ownPath() {
            candidates.append(URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(executableName).path)
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            candidates.append("\(directory)/\(executableName)")
        }
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// This executable's path, symlinks resolved (a `berth` linked into /usr/local/bin finds
    /// the `berth-serve` of its own build).
    static func ownPath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
