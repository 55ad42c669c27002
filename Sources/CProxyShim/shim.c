#define _GNU_SOURCE
#include "CProxyShim.h"
#include <malloc.h>

CURLcode cproxy_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}
CURLcode cproxy_easy_setopt_ptr(CURL *easy, CURLoption option, const void *value) {
    return curl_easy_setopt(easy, option, value);
}
CURLcode cproxy_easy_setopt_off(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}
CURLcode cproxy_easy_setopt_data_cb(CURL *easy, CURLoption option, cproxy_data_cb cb) {
    return curl_easy_setopt(easy, option, cb);
}
CURLcode cproxy_easy_getinfo_long(CURL *easy, CURLINFO info, long *out) {
    return curl_easy_getinfo(easy, info, out);
}
CURLcode cproxy_easy_getinfo_ptr(CURL *easy, CURLINFO info, void **out) {
    return curl_easy_getinfo(easy, info, out);
}
CURLMcode cproxy_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
CURLMcode cproxy_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value) {
    return curl_multi_setopt(multi, option, value);
}
CURLMcode cproxy_multi_setopt_socket_cb(CURLM *multi, cproxy_socket_cb cb) {
    return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, cb);
}
CURLMcode cproxy_multi_setopt_timer_cb(CURLM *multi, cproxy_timer_cb cb) {
    return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, cb);
}

CURLcode cproxy_easy_setopt_opensocket_cb(CURL *easy, curl_opensocket_callback cb) {
    return curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, cb);
}

CURLcode cproxy_easy_setopt_closesocket_cb(CURL *easy, curl_closesocket_callback cb) {
    return curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, cb);
}

int cproxy_accept_nonblocking(int listener) {
    return accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int cproxy_release_free_memory(void) {
    return malloc_trim(0);
}
