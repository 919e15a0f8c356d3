/// A seeded mutation fuzzer for runs without libFuzzer (the CI pass): the same seed gives the same
/// inputs on every machine, so a failure reproduces and the pass is never flaky.
public struct Mutator: Sendable {
    private var state: UInt64
    public let dictionary: [[UInt8]]
    /// Mutated inputs are cut to this size so one input never dominates the time budget.
    public var maxLength = 8192

    public init(seed: UInt64, dictionary: [String]) {
        state = seed
        self.dictionary = dictionary.map { Array($0.utf8) }
    }

    /// SplitMix64: tiny, seedable, good enough to pick mutations.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ n: Int) -> Int {
        n <= 1 ? 0 : Int(next() % UInt64(n))
    }

    /// One to four stacked mutations of an input from `corpus`.
    public mutating func mutate(from corpus: [[UInt8]]) -> [UInt8] {
        var input = corpus.isEmpty ? [] : corpus[below(corpus.count)]
        for _ in 0...below(4) {
            mutateOnce(&input, corpus: corpus)
        }
        if input.count > maxLength { input.removeLast(input.count - maxLength) }
        return input
    }

    private mutating func mutateOnce(_ input: inout [UInt8], corpus: [[UInt8]]) {
        let position = below(input.count + 1)
        switch below(9) {
        case 0 where !input.isEmpty: // flip a bit
            let i = below(input.count)
            input[i] ^= UInt8(1) << UInt8(below(8))
        case 1 where !input.isEmpty: // a random byte
            input[below(input.count)] = UInt8(truncatingIfNeeded: next())
        case 2, 3: // a token the parser branches on
            if let token = dictionary.isEmpty ? nil : dictionary[below(dictionary.count)] {
                input.insert(contentsOf: token, at: position)
            }
        case 4 where !input.isEmpty: // delete a range
            let end = min(input.count, position + 1 + below(16))
            if position < end { input.removeSubrange(position..<end) }
        case 5 where !input.isEmpty: // repeat a range (deep nesting, long runs)
            let start = below(input.count)
            let end = min(input.count, start + 1 + below(32))
            let piece = Array(input[start..<end])
            for _ in 0...below(8) { input.insert(contentsOf: piece, at: position) }
        case 6: // truncate
            input.removeLast(input.count - position)
        case 7 where !corpus.isEmpty: // splice with another input
            let other = corpus[below(corpus.count)]
            let cut = below(other.count + 1)
            input = Array(input[..<position]) + Array(other[cut...])
        default: // insert random bytes, biased to ASCII syntax
            for _ in 0...below(4) {
                let byte = below(4) == 0 ? UInt8(truncatingIfNeeded: next()) : UInt8(32 + below(95))
                input.insert(byte, at: min(position, input.count))
            }
        }
    }
}

import Foundation

/// Reads seed inputs: every regular file below the given directories, in a stable order.
public enum SeedCorpus {
    public static func load(_ directories: [String]) -> [[UInt8]] {
        directories.flatMap(files(in:)).compactMap { FileManager.default.contents(atPath: $0).map { Array($0) } }
    }

    public static func files(in directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(path)
            }
        }
        return found.sorted()
    }
}
