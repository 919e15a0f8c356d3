import Foundation

/// Runs programs from tests without blocking Swift's cooperative pool: on 2 cores the pool has
/// 2 threads, and a test waiting on a child there would stall every other test in the run.
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: String? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result {
                    try runBlocking(executable, arguments, environment: environment, directory: directory)
                })
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// `git` as the tests' author (t@berth) in `directory`; returns its trimmed output, and a
    /// non-zero exit throws with git's own message.
    @discardableResult
    public static func git(_ arguments: [String], in directory: String) async throws -> String {
        let r = try await run("/usr/bin/git", ["-c", "user.email=t@berth", "-c", "user.name=t"] + arguments, directory: directory)
        guard r.status == 0 else { throw Failure(description: "git \(arguments.joined(separator: " ")): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The blocking form, for code already off the pool (or synchronous test helpers).
    public static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain stderr on its own thread so a full pipe on either side cannot stall the child.
        let errBox = DataBox()
        let errDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    private final class DataBox: @unchecked Sendable {
        var data = Data()
    }
}
