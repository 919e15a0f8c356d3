import FoundationEssentials
import Glibc
import Platform
import Testing

// Platform stands in for the NSString, CharacterSet, String(format:), FileHandle and NSLock calls
// the modules under berth made; these check it answers as those did.
@Suite struct PathTests {
    @Test(arguments: [
        ("/a/b/c", "c"), ("/a/b/", "b"), ("b", "b"), ("/", "/"), ("", ""), ("a//b", "b"), ("/a", "a"),
    ])
    func lastComponent(path: String, expected: String) {
        #expect(Path.lastComponent(path) == expected)
    }

    @Test(arguments: [
        ("/a/b/c", "/a/b"), ("/a", "/"), ("a", ""), ("a/b/", "a"), ("/", "/"), ("", ""), ("a//b", "a"),
    ])
    func deletingLastComponent(path: String, expected: String) {
        #expect(Path.deletingLastComponent(path) == expected)
    }

    @Test(arguments: [
        ("a", "b", "a/b"), ("a/", "b", "a/b"), ("", "b", "b"), ("a", "", "a"), ("/", "etc", "/etc"),
        ("/home/u", ".docker/config.json", "/home/u/.docker/config.json"), ("a", "/b", "a/b"),
    ])
    func appending(path: String, component: String, expected: String) {
        #expect(Path.appending(path, component) == expected)
    }
}

@Suite struct TextTests {
    @Test func trimmingWhitespaceKeepsNewlinesAndInnerSpace() {
        #expect("  a b \t".trimming(.whitespaces) == "a b")
        #expect("\n a \n".trimming(.whitespaces) == "\n a \n")
        #expect("\u{00A0}x\u{2003}".trimming(.whitespaces) == "x")
        #expect("   ".trimming(.whitespaces) == "")
        #expect("".trimming(.whitespaces) == "")
    }

    @Test func trimmingNewlinesAndSets() {
        #expect("\r\n x \n\u{2028}".trimming(.whitespacesAndNewlines) == "x")
        #expect("\nx y\n".trimming(.newlines) == "x y")
        #expect(" ,user, ".trimming(CharacterClass(charactersIn: " ,")) == "user")
        #expect("é".trimming(.alphanumerics) == "")
    }

    @Test func percentEncodingEncodesUTF8BytesOutsideTheSet() {
        #expect("my app/v1".addingPercentEncoding(allowing: .urlPathAllowed) == "my%20app/v1")
        #expect("a;b?c#d".addingPercentEncoding(allowing: .urlPathAllowed) == "a%3Bb%3Fc%23d")
        #expect("ü".addingPercentEncoding(allowing: .urlPathAllowed) == "%C3%BC")
        #expect("ü-1".addingPercentEncoding(allowing: .alphanumerics) == "ü%2D1")
    }

    @Test func hexMatchesFormatSpecifiers() {
        #expect(Hex.string([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.byte(0x3b, uppercase: true) == "3B")
        #expect(Hex.padded(UInt32(0x1f), width: 4) == "001f")
        #expect(Hex.padded(UInt32(0x12345), width: 4) == "12345")
    }

    @Test(arguments: [
        // What glibc's printf gives for each (checked with a C program).
        (1.25, 1, "1.2"), (0.04, 1, "0.0"), (12.0, 2, "12.00"), (-1.25, 1, "-1.2"), (-0.04, 1, "-0.0"),
        (999.96, 1, "1000.0"), (3.14159, 0, "3"), (0.005, 2, "0.01"), (123456.789, 2, "123456.79"),
        (2.25, 1, "2.2"), (0.15, 1, "0.1"), (0.35, 1, "0.3"), (2.5, 0, "2"), (3.5, 0, "4"),
    ])
    func fixedPoint(value: Double, digits: Int, expected: String) {
        #expect(Number.fixed(value, digits: digits) == expected)
    }

    @Test func fittedCutsOrPads() {
        #expect("ab".fitted(to: 4) == "ab  ")
        #expect("abcdef".fitted(to: 3) == "abc")
        #expect("é✔".fitted(to: 3) == "é✔ ")
    }
}

@Suite struct FileTests {
    @Test func writesReadsSeeksAndReportsTheEnd() throws {
        let path = "/tmp/berth-platform-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        defer { unlink(path) }
        #expect(File(forReadingAtPath: path) == nil)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let writer = try #require(File(forWritingAtPath: path))
        try writer.write(contentsOf: Data("hello, world".utf8))
        try writer.close()
        let reader = try #require(File(forReadingAtPath: path))
        #expect(try reader.seekToEnd() == 12)
        try reader.seek(toOffset: 7)
        #expect(try reader.read(upToCount: 100) == Data("world".utf8))
        #expect(try reader.read(upToCount: 100) == nil)
        try reader.seek(toOffset: 0)
        #expect(reader.readDataToEndOfFile() == Data("hello, world".utf8))
    }

    @Test func errorTextNamesThePathAndTheReason() {
        do {
            _ = try Data(contentsOf: URL(filePath: "/nonexistent/berth-test"))
            Issue.record("read a file that does not exist")
        } catch {
            #expect(errorText(error) == "/nonexistent/berth-test: No such file or directory")
        }
    }
}

@Suite struct ThreadTests {
    @Test func threadsRunAndConditionWakesTheWaiter() {
        let condition = Condition()
        nonisolated(unsafe) var done = 0
        for _ in 0..<4 {
            #expect(startThread(stackSize: 1 << 20) {
                condition.withLock { done += 1 }
                condition.broadcast()
            })
        }
        condition.lock()
        while done < 4 {
            if !condition.wait(seconds: 5) { break }
        }
        let seen = done
        condition.unlock()
        #expect(seen == 4)
    }

    @Test func timedWaitReturnsFalseAfterItsTime() {
        let condition = Condition()
        let start = ContinuousClock.now
        condition.lock()
        let signalled = condition.wait(seconds: 0.05)
        condition.unlock()
        #expect(!signalled)
        #expect(ContinuousClock.now - start >= .milliseconds(45))
    }

    @Test func lockIsExclusive() {
        let lock = Lock()
        let finished = Condition()
        nonisolated(unsafe) var counter = 0
        nonisolated(unsafe) var threads = 0
        for _ in 0..<8 {
            startThread {
                for _ in 0..<10_000 { lock.withLock { counter += 1 } }
                finished.withLock { threads += 1 }
                finished.signal()
            }
        }
        finished.lock()
        while threads < 8 { if !finished.wait(seconds: 10) { break } }
        finished.unlock()
        #expect(counter == 80_000)
    }
}
