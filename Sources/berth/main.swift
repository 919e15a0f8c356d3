import BerthCLI

// The executable stays thin: every command lives in BerthCLI.
BerthCLI.start()
BerthCLI.run()
