import Foundation
import Testing
import TestSupport

@Suite struct DoctorTests {
    @Test func passesOnThisHostWithTheTestRegistry() async throws {
        let r = try await Host.run(Host.berthBinary, ["doctor", "--json", "--registry", "127.0.0.1:5000"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true)
        let names = (json["checks"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["engine", "registry", "libcurl", "libgit2", "libyaml"])
    }

    @Test func unreachableEngineFailsWithAdvice() async throws {
        let r = try await Host.run(Host.berthBinary, ["doctor"], environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL engine"))
        #expect(r.stdout.contains("→"))
    }

    @Test func unreachableRegistryFails() async throws {
        let r = try await Host.run(Host.berthBinary, ["doctor", "--registry", "127.0.0.1:1"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL registry"))
    }
}
