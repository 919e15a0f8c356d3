import Engine
import Foundation
import Logging
import Reconcile
import TestSupport

/// Shared pieces for tests that run against the real engine started by ops/setup.
enum Host {
    static let logger: Logger = {
        var l = Logger(label: "berth.tests")
        l.logLevel = .warning
        return l
    }()
    static let engine = EngineClient(logger: logger)
    static let busybox = "berth.local/busybox:latest"

    static func busyboxID() async throws -> String {
        try await engine.inspectImage(busybox).id
    }

    /// Removes every container, network and volume of a test project.
    static func cleanUp(project: String) async {
        let filter = ["label": ["\(Labels.project)=\(project)"]]
        if let containers = try? await engine.listContainers(all: true, filters: filter) {
            for c in containers { try? await engine.removeContainer(c.id, force: true, volumes: true) }
        }
        if let networks = try? await engine.listNetworks(filters: filter) {
            for n in networks { try? await engine.removeNetwork(n.id) }
        }
        if let volumes = try? await engine.listVolumes(filters: filter) {
            for v in volumes { try? await engine.removeVolume(v.name, force: true) }
        }
    }

    static func containers(project: String) async throws -> [ContainerSummary] {
        try await engine.listContainers(all: true, filters: ["label": ["\(Labels.project)=\(project)"]])
    }

    /// The built `berth` executable, for tests of the command line itself.
    static var berthBinary: String {
        TestPaths.packageRoot.appendingPathComponent(".build/debug/berth").path
    }

    struct RunResult { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a program to completion on a thread of its own: waiting for a child blocks, and a
    /// blocked thread of Swift's small cooperative pool would stall every other test.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    directory: String? = nil) async throws -> RunResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(executable, arguments, environment: environment, directory: directory) })
            }
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String],
                                    directory: String?) throws -> RunResult {
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
        // Read stderr on another thread so a full pipe on either side cannot deadlock the child.
        nonisolated(unsafe) var e = Data()
        let errDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            e = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
    }
}
