import BerthCLI
import BerthServe

// The executable stays thin: `berth serve` execs it, and the command lives in BerthServe.
BerthCLI.bootstrapLogging()
await ServeCommand.start()
