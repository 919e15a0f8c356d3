// Imported first for the link order: a static link takes each symbol from the first archive
// that has it, and the archives come in the order of this file's imports. FoundationEssentials
// and swift-corelibs-foundation (which swift-crypto imports) define some of the same generic
// specialisations; taken from the latter they bring CoreFoundation and ICU into berth (~30,000
// relocations, ~1.5 ms of every start). ops/build-berth checks that they stay out.
import FoundationEssentials
import BerthCLI

// The executable stays thin: every command lives in BerthCLI.
BerthCLI.start()
BerthCLI.run()
