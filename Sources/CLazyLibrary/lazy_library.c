#include "lazy_library.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void berth_lazy_open(struct berth_lazy_library *library) {
    /* RTLD_LOCAL: the library's dependencies stay out of the global scope, so later symbol
       look-ups (and those of other libraries opened later) do not search them. */
    void *handle = dlopen(library->soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(library->problem, sizeof library->problem, "%s", why ? why : "dlopen failed");
        library->failed = 1;
        return;
    }
    for (size_t i = 0; i < library->count; i++) {
        *library->symbols[i].slot = dlsym(handle, library->symbols[i].name);
        if (!*library->symbols[i].slot) {
            snprintf(library->problem, sizeof library->problem, "%s has no function %s (too old?)", library->soname,
                     library->symbols[i].name);
            library->failed = 1;
            return;
        }
    }
}

int berth_lazy_load(struct berth_lazy_library *library, char *error, size_t size) {
    pthread_once(library->once, library->open);
    if (!library->failed) return 0;
    if (error && size) snprintf(error, size, "%s", library->problem);
    return -1;
}

void berth_lazy_need(struct berth_lazy_library *library) {
    if (__builtin_expect(berth_lazy_load(library, NULL, 0) == 0, 1)) return;
    fprintf(stderr, "berth: cannot load %s: %s; install the Debian package %s\n", library->display, library->problem,
            library->package);
    abort();
}
