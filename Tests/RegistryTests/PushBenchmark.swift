import Foundation
import Testing
import TestSupport

@testable import Registry

/// `docker save IMAGE` as a stream of chunks, as the engine's export endpoint delivers it.
func dockerSaveStream(_ image: String) -> AsyncThrowingStream<Data, any Error> {
    AsyncThrowingStream { continuation in
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["docker", "save", image]
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch {
            continuation.finish(throwing: error)
            return
        }
        let t = Thread {
            while true {
                let d = pipe.fileHandleForReading.readData(ofLength: 1 << 20)
                if d.isEmpty { break }
                continuation.yield(d)
            }
            p.waitUntilExit()
            if p.terminationStatus == 0 {
                continuation.finish()
            } else {
                continuation.finish(throwing: RegistryError(.badTarball, "docker save \(image) failed"))
            }
        }
        t.start()
    }
}

/// Timings of push variants for a big image; run with BERTH_BENCH=1 (ops/bench/push prints the
/// comparison with docker and skopeo).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["BERTH_BENCH"] != nil))
struct PushBenchmark {
    let image = ProcessInfo.processInfo.environment["BERTH_BENCH_IMAGE"] ?? "berth.local/debian:bookworm"

    func time<T>(_ label: String, _ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        let r = try await body()
        let d = ContinuousClock.now - start
        print(String(format: "bench: %@ %7.2f s", label.padding(toLength: 50, withPad: " ", startingAt: 0),
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18))
        return r
    }

    func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func variants() async throws {
        // A fresh registry: docker and skopeo remember blobs they pushed to a registry before
        // and would mount them instead of uploading.
        let registry = try ScratchRegistry(basicAuth: false)
        defer { registry.stop() }
        let reg = registry.address
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tar = dir.appendingPathComponent("image.tar")
        let saved = try await time("docker save to file") { try run(["docker", "save", "-o", tar.path, image]) }
        #expect(saved.status == 0)
        let archive = try SaveArchive.index(file: tar.path)
        let entry = try archive.manifest()[0]
        for (level, threads) in [(1, 1), (1, 0), (6, 0)] {
            let inputs = try entry.Layers.map { try archive.layer($0).0 }
            let input = inputs.max { $0.length < $1.length } ?? inputs[0]
            let c = threads == 0 ? LayerCompressor(level: Int32(level)) : LayerCompressor(level: Int32(level), threads: threads)
            let out = dir.appendingPathComponent("l.gz").path
            let r = try await time("compress biggest layer, level \(level), \(c.threads) threads") {
                try await c.compress(input, to: out)
            }
            print("bench:   \(r.uncompressedSize) → \(r.size) bytes")
        }
        for level in [1, 6] {
            var o = RegistryClient.Options()
            o.compressor = LayerCompressor(level: Int32(level))
            let r = try await time("push from file, level \(level)") {
                try await makeClient(options: o).push(saveTarball: tar, to: try uniqueRef("bench-file-\(level)", registry: reg))
            }
            #expect(r.blobsUploaded > 0)
        }
        // The tools users would otherwise use, in the same run, each to a fresh repository.
        let dockerRef = try uniqueRef("bench-docker", registry: reg)
        #expect(try run(["docker", "tag", image, "\(dockerRef)"]).status == 0)
        defer { _ = try? run(["docker", "rmi", "\(dockerRef)"]) }
        let dockerTime = try await seconds {
            let r = try run(["docker", "push", "\(dockerRef)"])
            #expect(r.status == 0, "\(r.err)")
        }
        print(String(format: "bench: docker push                                  %7.2f s", dockerTime))
        let skopeoTime = try await seconds {
            let r = try run(["skopeo", "copy", "--dest-tls-verify=false", "docker-daemon:\(image)",
                "docker://\(try uniqueRef("bench-skopeo", registry: reg))"])
            #expect(r.status == 0, "\(r.err)")
        }
        print(String(format: "bench: skopeo copy docker-daemon:                   %7.2f s", skopeoTime))

        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let ref = try uniqueRef("bench-stream", registry: reg)
        let streamTime = try await seconds {
            _ = try await makeClient().push(saveStream: dockerSaveStream(image), to: try uniqueRef("bench-stream-0", registry: reg))
        }
        print(String(format: "bench: berth stream push (docker save | push)       %7.2f s  docker/berth %.1fx  skopeo/berth %.1fx",
            streamTime, dockerTime / streamTime, skopeoTime / streamTime))
        let r = try await time("push from docker save stream, level 1") {
            try await makeClient().push(saveStream: dockerSaveStream(image), to: ref, cache: BlobCache(directory: cacheDir))
        }
        #expect(r.layersCompressed > 0)
        let again = try await time("push again from stream (cache hit)") {
            try await makeClient().push(saveStream: dockerSaveStream(image), to: ref, cache: BlobCache(directory: cacheDir))
        }
        #expect(again.bytesUploaded == 0)
        let mounted = try await time("push to a new repo from stream (mount)") {
            try await makeClient().push(saveStream: dockerSaveStream(image), to: try uniqueRef("bench-mount", registry: reg),
                cache: BlobCache(directory: cacheDir))
        }
        #expect(mounted.bytesUploaded == 0)
    }
}
