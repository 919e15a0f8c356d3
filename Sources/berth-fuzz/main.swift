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
print("""
    berth-fuzz is a libFuzzer driver; build and run it with ops/fuzz:
      ops/fuzz --seconds 60 --target yaml
    Targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
    """)
#endif
