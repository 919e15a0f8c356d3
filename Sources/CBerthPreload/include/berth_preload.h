#ifndef BERTH_PRELOAD_H
#define BERTH_PRELOAD_H
/* berth_preload.c runs before Swift's `main` (an ELF constructor) and has nothing to call. */
#endif
