#ifndef BERTH_START_H
#define BERTH_START_H
/* berth_start.c runs before Swift's `main` (an ELF constructor): it has nothing to call. The
   decision it makes is exported so that tests can check it against the command names. */

/* Whether the `berth` command line argv[1...] names a command that makes requests. */
int berth_start_needs_curl(int argc, char **argv);
#endif
