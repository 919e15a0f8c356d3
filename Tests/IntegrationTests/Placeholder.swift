import Testing
import TestSupport

@Test func fixturesArePresent() {
    #expect(FileManager.default.fileExists(atPath: TestPaths.fixture("README.md").path))
}
import Foundation
