/* libcurl, opened with dlopen on first use instead of linked. Linking it makes the dynamic
   loader map and relocate libcurl and the ~30 libraries it needs (TLS, Kerberos, LDAP, SSH...;
   Debian builds them with BIND_NOW) at every start of berth: ~6 ms, a quarter of a `berth
   config`, even for commands that never make a request.

   Every libcurl function Berth calls is defined here under libcurl's own name, with the
   prototype from <curl/curl.h> (so the compiler checks each signature), and forwards through a
   pointer that berth_curl_load resolves with dlsym. All pointers are resolved at load time, so
   a libcurl lacking one is a load error, not a crash later. A forwarder called before a
   successful load loads the library itself and aborts with a message if it cannot: the Swift
   side calls berth_curl_load first and reports a failure as a CurlError.

   The definitions are hidden: the berth executable exports its symbols, and exported ones would
   take the place of libcurl's own functions in libcurl's calls to its public API. */
#define CURL_DISABLE_TYPECHECK /* the type-checking macros would shadow the names defined here */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#pragma GCC visibility push(hidden)
#include "shim.h"
#include "lazy_library.h"

/* The soname of the libcurl4-openssl-dev headers we compile against; the Debian runtime
   package is libcurl4. */
#define SONAME "libcurl.so.4"
#define PACKAGE "libcurl4"

#define SYMBOLS(X) \
    X(curl_easy_cleanup) \
    X(curl_easy_getinfo) \
    X(curl_easy_init) \
    X(curl_easy_perform) \
    X(curl_easy_reset) \
    X(curl_easy_setopt) \
    X(curl_easy_strerror) \
    X(curl_global_init) \
    X(curl_multi_setopt) \
    X(curl_slist_append) \
    X(curl_slist_free_all) \
    X(curl_version_info)

BERTH_LAZY_LIBRARY(berth_curl_load, SONAME, "libcurl", PACKAGE, SYMBOLS)

#define CALL(name) BERTH_LAZY_CALL(name)

void curl_easy_cleanup(CURL *curl) { CALL(curl_easy_cleanup)(curl); }
CURL *curl_easy_init(void) { return CALL(curl_easy_init)(); }
CURLcode curl_easy_perform(CURL *curl) { return CALL(curl_easy_perform)(curl); }
void curl_easy_reset(CURL *curl) { CALL(curl_easy_reset)(curl); }
const char *curl_easy_strerror(CURLcode code) { return CALL(curl_easy_strerror)(code); }
CURLcode curl_global_init(long flags) { return CALL(curl_global_init)(flags); }
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data) {
    return CALL(curl_slist_append)(list, data);
}
void curl_slist_free_all(struct curl_slist *list) { CALL(curl_slist_free_all)(list); }
curl_version_info_data *curl_version_info(CURLversion stamp) {
    return CALL(curl_version_info)(stamp);
}

/* The typed wrappers of shim.h call the variadic functions through their own prototypes. */
CURLcode berth_curl_easy_setopt_long(CURL *h, CURLoption o, long v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_data_cb(CURL *h, CURLoption o, berth_curl_data_cb v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_setopt_xferinfo_cb(CURL *h, CURLoption o, berth_curl_xferinfo_cb v) {
    return CALL(curl_easy_setopt)(h, o, v);
}
CURLcode berth_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return CALL(curl_easy_getinfo)(h, i, v);
}
CURLcode berth_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) {
    return CALL(curl_easy_getinfo)(h, i, v);
}
CURLcode berth_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) {
    return CALL(curl_easy_getinfo)(h, i, v);
}
CURLcode berth_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) {
    return CALL(curl_easy_getinfo)(h, i, v);
}
CURLMcode berth_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return CALL(curl_multi_setopt)(m, o, v);
}
curl_version_info_data *berth_curl_version_info(void) { return curl_version_info(CURLVERSION_NOW); }

#pragma GCC visibility pop

/* Loading libcurl maps and relocates some thirty libraries and its global init sets up
   OpenSSL and libssh2: ~6 ms together. A command that will make requests starts both on
   another thread before it parses its arguments, so they overlap that work. */
static pthread_once_t berth_curl_global_once = PTHREAD_ONCE_INIT;
static int berth_curl_global_ready;

static void berth_curl_global_init_once(void) {
    if (berth_curl_load(NULL, 0) != 0) return;
    berth_curl_global_ready = curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK;
}

int berth_curl_global_init(void) {
    pthread_once(&berth_curl_global_once, berth_curl_global_init_once);
    return berth_curl_global_ready ? 0 : -1;
}

static void *berth_curl_preload_thread(void *unused) {
    (void)unused;
    berth_curl_global_init();
    return NULL;
}

void berth_curl_preload(void) {
    pthread_attr_t attributes;
    pthread_t thread;
    if (pthread_attr_init(&attributes) != 0) return;
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    /* Without a thread the first request loads libcurl itself: only slower. */
    (void)pthread_create(&thread, &attributes, berth_curl_preload_thread, NULL);
    pthread_attr_destroy(&attributes);
}
