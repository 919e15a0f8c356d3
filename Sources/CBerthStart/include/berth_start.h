#ifndef BERTH_START_H
#define BERTH_START_H
/* The decision CBerthPreload's constructor makes, apart, so that tests can check it against the
   command names without linking a constructor that starts loading libcurl. */

/* Whether the `berth` command line argv[1...] names a command that makes requests. */
int berth_start_needs_curl(int argc, char **argv);
#endif
