import Foundation
import FuzzTargets
import Testing
import TestSupport

/// The short fuzz pass CI runs: every corpus input of every target (`Tests/FuzzCorpus/<target>`,
/// regression inputs included, plus the conformance fixtures), then a fixed number of seeded
/// mutations of them. The seed is fixed, so a run is the same on every machine and cannot flake;
/// the long runs are `ops/fuzz` with libFuzzer.
@Suite struct FuzzPassTests {
    static let mutationsPerTarget = 1500
    /// Generous for a debug build on a loaded machine; libFuzzer runs use 1 s on release builds.
    static let slowInputLimit: Duration = .seconds(5)

    @Test(arguments: FuzzTarget.allCases)
    func corpusAndSeededMutations(target: FuzzTarget) throws {
        let corpus = Corpus.inputs(for: target)
        #expect(!corpus.isEmpty, "no corpus for \(target.rawValue) in Tests/FuzzCorpus")

        let clock = ContinuousClock()
        var slowest: Duration = .zero
        func check(_ input: [UInt8], _ what: String) {
            let start = clock.now
            do {
                try target.run(input)
            } catch {
                Issue.record("\(target.rawValue), \(what): \(error)\ninput: \(Corpus.show(input))")
            }
            let took = clock.now - start
            slowest = max(slowest, took)
            #expect(took < Self.slowInputLimit, "\(target.rawValue), \(what) took \(took): \(Corpus.show(input))")
        }

        for (index, input) in corpus.enumerated() {
            check(input, "corpus input \(index)")
        }
        // One seed per target so adding a target does not change the inputs of the others.
        var mutator = Mutator(seed: Corpus.seed(for: target), dictionary: target.dictionary)
        for index in 0..<Self.mutationsPerTarget {
            check(mutator.mutate(from: corpus), "mutation \(index)")
        }
        #expect(slowest < Self.slowInputLimit)
    }

    /// libFuzzer finding: a document whose root is an empty scalar (` &baW`) was emitted as
    /// nothing at all and lost on reading back.
    @Test func emptyRootScalarSurvivesEmitAndParse() throws {
        for text in [" &baW", "", "--- ~\n", "--- \n--- x\n"] {
            #expect(throws: Never.self) { try FuzzTarget.yaml.run(Array(text.utf8)) }
        }
    }

    /// libFuzzer finding: a literal `<<` key (tagged `! <<`, so not a merge key) was emitted
    /// plain and read back as a merge key of a non-mapping.
    @Test func literalMergeKeySurvivesEmitAndParse() throws {
        for text in ["L 1.1\n---\nx-base: &base\n( is:\neb:\n  !  <<: *base\n\n", "a:\n  ! <<: 1\n", "\"<<\": x\n"] {
            #expect(throws: Never.self) { try FuzzTarget.yaml.run(Array(text.utf8)) }
        }
    }

    /// libFuzzer finding: a registry error entry with an empty code and no message was printed as
    /// "(registry says: )"; an empty code now reads as UNKNOWN, like a missing one.
    @Test func emptyRegistryErrorCodeReadsAsUnknown() throws {
        for text in ["429 30\n{\"errors\":[{\"code\":\"\"}]}", "500\n{\"errors\":[{\"code\":\"\",\"message\":\"\"},{}]}"] {
            #expect(throws: Never.self) { try FuzzTarget.registryError.run(Array(text.utf8)) }
        }
    }

    @Test func mutatorIsDeterministic() {
        let corpus: [[UInt8]] = [Array("services: {}".utf8), Array("a: [1, 2]".utf8)]
        var a = Mutator(seed: 42, dictionary: ["${X}"])
        var b = Mutator(seed: 42, dictionary: ["${X}"])
        let first = (0..<50).map { _ in a.mutate(from: corpus) }
        let second = (0..<50).map { _ in b.mutate(from: corpus) }
        #expect(first == second)
        #expect(Set(first).count > 10, "mutations should differ from one another")
    }

    @Test func everyTargetHasACorpusFolder() {
        for target in FuzzTarget.allCases {
            let dir = Corpus.directory.appendingPathComponent(target.rawValue).path
            #expect(FileManager.default.fileExists(atPath: dir), "missing \(dir)")
        }
    }
}

enum Corpus {
    static let directory = TestPaths.packageRoot.appendingPathComponent("Tests/FuzzCorpus")

    static func seed(for target: FuzzTarget) -> UInt64 {
        target.rawValue.utf8.reduce(UInt64(0x6265_7274_6866_757A)) { ($0 &* 31) &+ UInt64($1) }
    }

    /// The checked-in corpus, then a few conformance fixtures when they are present.
    static func inputs(for target: FuzzTarget) -> [[UInt8]] {
        var files = files(in: directory.appendingPathComponent(target.rawValue))
        let fixtures: [(String, (String) -> Bool)] = switch target {
        case .yaml, .compose: [("compose-merge", { $0.hasSuffix("base.yaml") }), ("compose-unicity", { $0.hasSuffix(".yaml") })]
        case .dotenv, .interpolation: [("dotenv", { $0.hasSuffix(".env") })]
        case .dockerfile: [("dockerfile-parser", { $0.hasSuffix("/Dockerfile") })]
        case .imageReference, .registry, .engine, .registryToken, .registryError, .engineProgress, .engineLogs, .engineSummary: []
        }
        for (folder, keep) in fixtures {
            // A handful keeps the pass short; the libFuzzer runs take them all.
            files += Self.files(in: TestPaths.fixture(folder)).filter(keep).prefix(12)
        }
        return files.compactMap { FileManager.default.contents(atPath: $0).map { Array($0) } }
    }

    static func files(in directory: URL) -> [String] {
        SeedCorpus.files(in: directory.path)
    }

    /// An input as a Swift string literal would write it, cut short, for failure messages.
    static func show(_ input: [UInt8]) -> String {
        let text = String(decoding: input.prefix(600), as: UTF8.self)
        return "\"" + text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\"" + (input.count > 600 ? "…" : "")
    }
}
