// libFuzzer driver for the parser targets. `ops/fuzz` builds it with
// `-Xswiftc -sanitize=fuzzer -Xswiftc -DBERTH_LIBFUZZER` in its own build path and picks the
// target with BERTH_FUZZ_TARGET; every other argument is libFuzzer's.
// Built without that flag (a normal `swift build`) it only explains how to run it.
import FuzzTargets

#if BERTH_LIBFUZZER
import Foundation

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// The C callback cannot capture, so the target is a global, read from the environment once.
nonisolated(unsafe) let current: FuzzTarget = {
    if let name = ProcessInfo.processInfo.environment["BERTH_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) {
        return target
    }
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("set BERTH_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
}()

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try current.run(input)
    } catch {
        fatalError("\(current.rawValue): \(error)")
    }
    return 0
})
#else
import Foundation

// Without libFuzzer: the seeded pass FuzzTests runs, over the given corpus directories.
// berth-fuzz <target> <mutations> <seed> <corpus dir>...
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 3, let target = FuzzTarget(rawValue: arguments[0]), let count = Int(arguments[1]),
      let seed = UInt64(arguments[2]) else {
    print("""
        berth-fuzz is a libFuzzer driver; build and run it with ops/fuzz:
          ops/fuzz --seconds 60 --target yaml
        Built without libFuzzer it runs a seeded pass: berth-fuzz <target> <mutations> <seed> <corpus dir>...
        Targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
        """)
    exit(2)
}
let corpus = SeedCorpus.load(Array(arguments.dropFirst(3)))
var mutator = Mutator(seed: seed, dictionary: target.dictionary)
var findings = 0
let clock = ContinuousClock()
var slowest: Duration = .zero
for index in 0..<(corpus.count + count) {
    let input = index < corpus.count ? corpus[index] : mutator.mutate(from: corpus)
    let start = clock.now
    do {
        try target.run(input)
    } catch {
        findings += 1
        print("finding at input \(index): \(error)")
    }
    slowest = max(slowest, clock.now - start)
}
print("\(target.rawValue): \(corpus.count) corpus inputs, \(count) mutations, \(findings) findings, slowest \(slowest)")
exit(findings == 0 ? 0 : 1)
#endif
