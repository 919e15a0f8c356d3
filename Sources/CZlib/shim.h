#include <zlib.h>

// deflateInit2 / inflateInit2 are macros that pass the library version and the stream size;
// Swift cannot call function-like macros, so these wrap them.
static inline int berth_deflateInit2(z_streamp strm, int level, int method, int windowBits,
                                     int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

static inline int berth_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
