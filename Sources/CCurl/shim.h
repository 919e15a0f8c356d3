#ifndef BERTH_CCURL_SHIM_H
#define BERTH_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
   call; these typed wrappers pass one argument of a known type each. */
static inline CURLcode berth_curl_easy_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode berth_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode berth_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode berth_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode berth_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
typedef size_t (*berth_curl_data_cb)(char *, size_t, size_t, void *);
static inline CURLcode berth_curl_easy_setopt_data_cb(CURL *h, CURLoption o, berth_curl_data_cb v) {
    return curl_easy_setopt(h, o, v);
}
typedef int (*berth_curl_xferinfo_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode berth_curl_easy_setopt_xferinfo_cb(CURL *h, CURLoption o, berth_curl_xferinfo_cb v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode berth_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode berth_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode berth_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode berth_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLMcode berth_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return curl_multi_setopt(m, o, v);
}
/* CURLVERSION_NOW is a macro naming the newest struct layout the headers know. */
static inline curl_version_info_data *berth_curl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}
#endif
