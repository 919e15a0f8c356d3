/* What `berth` starts before Swift's `main` runs. Only the berth executable links this target:
   in any other process (the test runner) a load still running when the process exits would race
   libc's exit handlers; berth itself ends with _exit (BerthCLI's `finish`).

   Loading libcurl is the longest step on the way to a command's first request (~6 ms for it and
   its thirty libraries; see Sources/CCurl/curl_dlopen.c). Started from `main`, it began ~0.7 ms
   after the process did: the Swift runtime's initialisers run first. Started from here, the
   executable's first initialiser (priority 101), it overlaps them. glibc calls init_array
   functions with argc, argv and envp, so the command is known already. */
#include "berth_preload.h"
#include "berth_start.h" /* CBerthStart */
#include "shim.h"        /* CCurl: berth_curl_preload */

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
