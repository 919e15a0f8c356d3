#ifndef BERTH_CCURL_SHIM_H
#define BERTH_CCURL_SHIM_H
#include <stddef.h>
#include <curl/curl.h>

/* Berth does not link libcurl: curl_dlopen.c opens libcurl.so.4 on first use, so commands that
   make no request do not pay for loading it. Call this before anything else from libcurl:
   0 when it is usable, else -1 with the reason (dlerror(), or the symbol it lacks) in `error`.
   Loading happens once per process; later calls return the first answer. */
int berth_curl_load(char *error, size_t size);

/* Loads libcurl and runs curl_global_init(CURL_GLOBAL_ALL) once per process: 0 when libcurl is
   ready for handles, else -1 (berth_curl_load says why). */
int berth_curl_global_init(void);

/* Starts berth_curl_global_init on a new detached thread and returns at once. While the
   library loads, glibc holds the loader's locks: other threads cannot start threads of their
   own until it is done. */
void berth_curl_preload(void);

/* curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
   call; these typed wrappers pass one argument of a known type each. */
CURLcode berth_curl_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode berth_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v);
CURLcode berth_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode berth_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode berth_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
typedef size_t (*berth_curl_data_cb)(char *, size_t, size_t, void *);
CURLcode berth_curl_easy_setopt_data_cb(CURL *h, CURLoption o, berth_curl_data_cb v);
typedef int (*berth_curl_xferinfo_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
CURLcode berth_curl_easy_setopt_xferinfo_cb(CURL *h, CURLoption o, berth_curl_xferinfo_cb v);
CURLcode berth_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode berth_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v);
CURLcode berth_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v);
CURLcode berth_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v);
CURLMcode berth_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v);
/* CURLVERSION_NOW is a macro naming the newest struct layout the headers know. */
curl_version_info_data *berth_curl_version_info(void);
#endif
