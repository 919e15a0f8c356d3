#ifndef BERTH_CGIT2_SHIM_H
#define BERTH_CGIT2_SHIM_H
#include <stddef.h>
#include <git2.h>

/* Berth does not link libgit2: git2_dlopen.c opens the libgit2 these headers belong to
   (libgit2.so.MAJOR.MINOR) on first use, so commands that never touch git do not pay for
   loading it. Call this before anything else from libgit2: 0 when it is usable, else -1 with
   the reason (dlerror(), or the symbol it lacks) in `error`. Loading happens once per process;
   later calls return the first answer. */
int berth_git2_load(char *error, size_t size);

/* git_libgit2_opts is variadic, which Swift cannot call; these wrappers pass the arguments of
   one option each. */
int berth_git_set_ssl_cert_locations(const char *file, const char *path);
int berth_git_set_owner_validation(int enabled);
#endif
