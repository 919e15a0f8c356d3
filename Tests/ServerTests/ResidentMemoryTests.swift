import Foundation
import Server
import Testing

@Suite struct ResidentMemoryTests {
    @Test func releasesCleanFilePagesAndKeepsRunning() throws {
        let before = try #require(ResidentMemory.residentKilobytes())
        let advised = ResidentMemory.releaseCleanFilePages()
        let after = try #require(ResidentMemory.residentKilobytes())
        // The test binary's own code is a clean read-only file mapping.
        #expect(advised > 1_048_576)
        #expect(after < before, "VmRSS \(before) kB → \(after) kB")
        // Relocated read-only data (RELRO) was left alone: code that reads it still works.
        let decoded = try JSONDecoder().decode([String: Int].self, from: Data(#"{"a":1}"#.utf8))
        #expect(decoded["a"] == 1)
        #expect("\(after)".count > 0)
    }
}
