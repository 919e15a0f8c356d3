#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle

/// Keeps an idle `serve` small. Most of a fresh daemon's resident set is not its heap but the
/// pages of its 160 MB static executable (and of the shared libraries) that start-up touched
/// once: argument parsing, migrations, the HTTP stack's set-up. They are clean, file-backed
/// pages; dropping them from this process's page tables (MADV_DONTNEED) leaves them in the page
/// cache, and the few a sync needs again come back as minor faults.
public enum ResidentMemory {
    /// Resident kilobytes of this process (VmRSS), nil where /proc is missing.
    public static func residentKilobytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// Drops the clean file-backed pages of read-only and executable mappings from this
    /// process's resident set; returns how many bytes of mappings were advised.
    ///
    /// Only mappings without anonymous (copy-on-write) pages qualify: a read-only mapping that
    /// the dynamic loader relocated (RELRO) holds private copies that MADV_DONTNEED would throw
    /// away, so it is never touched.
    @discardableResult
    public static func releaseCleanFilePages() -> Int {
        #if os(Linux)
        guard let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
        var released = 0
        var candidate: (start: UInt, end: UInt)?
        var anonymousKB = -1
        func flush() {
            if let range = candidate, anonymousKB == 0 {
                if madvise(UnsafeMutableRawPointer(bitPattern: range.start), Int(range.end - range.start), MADV_DONTNEED) == 0 {
                    released += Int(range.end - range.start)
                }
            }
            candidate = nil
            anonymousKB = -1
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), fields.count >= 5, !first.hasSuffix(":") {
                // A new mapping: "start-end perms offset dev inode [path]".
                flush()
                let bounds = first.split(separator: "-")
                let perms = fields[1]
                let inode = fields[4]
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                      perms.hasPrefix("r"), !perms.contains("w"), perms.hasSuffix("p"), inode != "0",
                      fields.count >= 6, fields[5].hasPrefix("/")
                else { continue }
                candidate = (start, end)
            } else if first == "Anonymous:", fields.count >= 2 {
                anonymousKB = Int(fields[1]) ?? -1
            }
        }
        flush()
        return released
        #else
        return 0
        #endif
    }
}

/// Releases start-up pages once the first syncs are done, then again now and then: a daemon
/// that sleeps between polls should not keep pages it touched once.
public struct ResidentMemoryService: Service {
    let firstDelay: Duration
    let interval: Duration
    let logger: Logger

    public init(firstDelay: Duration = .seconds(10), interval: Duration = .seconds(30), logger: Logger) {
        self.firstDelay = firstDelay
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var delay = firstDelay
        while !Task.isCancelled {
            let wait = delay
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) } } catch { return }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            let before = ResidentMemory.residentKilobytes()
            let advised = ResidentMemory.releaseCleanFilePages()
            if let before, let after = ResidentMemory.residentKilobytes() {
                logger.debug("resident memory \(before / 1024) MB → \(after / 1024) MB (\(advised / 1_048_576) MB of clean file mappings advised)")
            }
            delay = interval
        }
    }
}
