#ifndef BERTH_LAZY_LIBRARY_H
#define BERTH_LAZY_LIBRARY_H
/* A shared library opened with dlopen on first use, with every function Berth calls resolved
   at once: CCurl and CGit2 each describe their library with one of these. */
#include <pthread.h>
#include <stddef.h>

struct berth_lazy_symbol {
    const char *name;
    void **slot;
};

struct berth_lazy_library {
    const char *soname;     /* "libcurl.so.4" */
    const char *display;    /* "libcurl", for messages */
    const char *package;    /* the Debian package that has it */
    const struct berth_lazy_symbol *symbols;
    size_t count;
    pthread_once_t *once;   /* the caller's PTHREAD_ONCE_INIT, run with its `open` below */
    void (*open)(void);     /* calls berth_lazy_open(&this library) */
    int failed;
    char problem[512];
};

/* Opens the library and fills every slot; on failure records why (dlerror's message, or the
   function the library lacks). Call it only from the library's `open`, under its `once`. */
void berth_lazy_open(struct berth_lazy_library *library);

/* Opens the library once per process: 0 when usable, else -1 with the reason in `error`. */
int berth_lazy_load(struct berth_lazy_library *library, char *error, size_t size);

/* For forwarders: returns when the library is usable, else says why on stderr and aborts. */
void berth_lazy_need(struct berth_lazy_library *library);

/* Declares, in the including file, a pointer p_<name> for each function SYMBOLS lists
   (`#define SYMBOLS(X) X(f) X(g) ...`), the library that fills them, and
   `int load_function(char *error, size_t size)`. A forwarder then calls
   `BERTH_LAZY_CALL(f)(arguments)`. */
#define BERTH_LAZY_POINTER(name) static __typeof__(name) *p_##name;
#define BERTH_LAZY_ENTRY(name) {#name, (void **)&p_##name},
#define BERTH_LAZY_LIBRARY(load_function, soname, display, package, SYMBOLS)                                      \
    SYMBOLS(BERTH_LAZY_POINTER)                                                                                 \
    static const struct berth_lazy_symbol berth_lazy_symbols[] = {SYMBOLS(BERTH_LAZY_ENTRY)};                   \
    static pthread_once_t berth_lazy_once = PTHREAD_ONCE_INIT;                                                  \
    static void berth_lazy_open_this(void);                                                                     \
    static struct berth_lazy_library berth_lazy_this = {                                                        \
        soname, display, package, berth_lazy_symbols, sizeof berth_lazy_symbols / sizeof berth_lazy_symbols[0], \
        &berth_lazy_once, berth_lazy_open_this, 0, {0}};                                                        \
    static void berth_lazy_open_this(void) { berth_lazy_open(&berth_lazy_this); }                               \
    int load_function(char *error, size_t size) { return berth_lazy_load(&berth_lazy_this, error, size); }
#define BERTH_LAZY_CALL(name) (berth_lazy_need(&berth_lazy_this), p_##name)
#endif
