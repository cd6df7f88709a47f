#ifndef FHIR_EDGE_CCURL_SHIM_H
#define FHIR_EDGE_CCURL_SHIM_H

#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call; these typed
   wrappers pass each argument kind through unchanged. */

typedef size_t (*fe_curl_data_callback)(char *data, size_t size, size_t count, void *context);

typedef int (*fe_curl_progress_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                         curl_off_t upload_total, curl_off_t upload_now);

static inline CURLcode fe_curl_setopt_progress(CURL *handle, CURLoption option, fe_curl_progress_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_setopt_callback(CURL *handle, CURLoption option, fe_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fe_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fe_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
