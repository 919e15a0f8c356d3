/* What `berth` starts before Swift's `main` runs. Only the berth executable links this target.

   Loading libcurl is the longest step on the way to a command's first request (~7 ms for it and
   its thirty libraries; see Sources/CCurl/curl_dlopen.c). Started from `main`, it began ~0.7 ms
   after the process did: the Swift runtime's and Foundation's initialisers run first. Started
   from here, the first initialiser of the executable (priority 101), it overlaps them. glibc
   calls init_array functions with argc, argv and envp, so the command is known already. */
#include "berth_start.h"

#include <string.h>

#include "shim.h" /* CCurl: berth_curl_preload */

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

/* Swift runtime (swift/Runtime/Paths.h): finds, once per process, where the runtime lives,
   with dladdr. Its backtracer's initialiser asks for that before `main`, and dladdr waits for
   glibc's loader lock, which dlopen holds for its whole ~7 ms. Asked here first, the answer is
   there when the backtracer asks. */
const char *swift_getRootPath(void);

__attribute__((constructor(101))) static void berth_start(int argc, char **argv, char **envp) {
    (void)envp;
    if (!berth_start_needs_curl(argc, argv)) return;
    (void)swift_getRootPath();
    berth_curl_preload();
}

/* GnuTLS comes in with libcurl only through libldap and librtmp, which Berth never uses
   (libcurl itself is the OpenSSL build), and both call gnutls_global_init before any TLS of
   theirs. Its implicit init at load time parses its ASN.1 tables: ~0.9 ms of libcurl's load.
   This is gnutls.h's GNUTLS_SKIP_GLOBAL_INIT: libgnutls asks this weak function whether to skip
   that init, and the executable's definition, exported for it alone (Package.swift), comes
   first in the look-up. Not the GNUTLS_NO_IMPLICIT_INIT variable: setenv moves `environ` off
   the stack, where the Swift runtime's initialiser looks for it to find argv. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void) { return 1; }
