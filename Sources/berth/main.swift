import BerthCLI

// The executable stays thin: every command lives in BerthCLI.
await BerthCLI.run()
