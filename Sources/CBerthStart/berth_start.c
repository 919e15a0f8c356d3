/* Whether a `berth` command line names a command that makes requests: read by the executable's
   constructor (Sources/CBerthPreload), before Swift's `main`, to start loading libcurl. */
#include "berth_start.h"

#include <string.h>

int berth_start_needs_curl(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!argv[i] || argv[i][0] == '-') continue;
        /* The first word is the subcommand. Every one makes requests but these: `config`
           prints the resolved compose model, `help` prints, and `serve` execs berth-serve,
           which loads libcurl itself. Keep in step with BerthCLI (StartTests checks it). */
        return strcmp(argv[i], "config") != 0 && strcmp(argv[i], "help") != 0 && strcmp(argv[i], "serve") != 0;
    }
    return 0;
}
