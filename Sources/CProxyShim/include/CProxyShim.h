#ifndef CPROXYSHIM_H
#define CPROXYSHIM_H
// Fixed-arity wrappers for the variadic libcurl calls Swift cannot make.
// One prefixed name per wrapped call; each forwards its arguments unchanged.
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <curl/curl.h>

typedef int (*cproxy_socket_cb)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*cproxy_timer_cb)(CURLM *multi, long timeout_ms, void *userp);
typedef size_t (*cproxy_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

/// curl_easy_setopt with a long argument.
CURLcode cproxy_easy_setopt_long(CURL *easy, CURLoption option, long value);
/// curl_easy_setopt with a pointer argument (strings, slists, user data).
CURLcode cproxy_easy_setopt_ptr(CURL *easy, CURLoption option, const void *value);
/// curl_easy_setopt with a curl_off_t argument.
CURLcode cproxy_easy_setopt_off(CURL *easy, CURLoption option, curl_off_t value);
/// curl_easy_setopt for CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION.
CURLcode cproxy_easy_setopt_data_cb(CURL *easy, CURLoption option, cproxy_data_cb cb);
/// curl_easy_setopt for CURLOPT_OPENSOCKETFUNCTION.
CURLcode cproxy_easy_setopt_opensocket_cb(CURL *easy, curl_opensocket_callback cb);
/// curl_easy_setopt for CURLOPT_CLOSESOCKETFUNCTION.
CURLcode cproxy_easy_setopt_closesocket_cb(CURL *easy, curl_closesocket_callback cb);
/// curl_easy_getinfo for a long result.
CURLcode cproxy_easy_getinfo_long(CURL *easy, CURLINFO info, long *out);
/// curl_easy_getinfo for a pointer result (CURLINFO_PRIVATE).
CURLcode cproxy_easy_getinfo_ptr(CURL *easy, CURLINFO info, void **out);
/// curl_multi_setopt with a long argument.
CURLMcode cproxy_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
/// curl_multi_setopt with a pointer argument.
CURLMcode cproxy_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value);
/// curl_multi_setopt for CURLMOPT_SOCKETFUNCTION.
CURLMcode cproxy_multi_setopt_socket_cb(CURLM *multi, cproxy_socket_cb cb);
/// curl_multi_setopt for CURLMOPT_TIMERFUNCTION.
CURLMcode cproxy_multi_setopt_timer_cb(CURLM *multi, cproxy_timer_cb cb);


/// accept4(2) with SOCK_NONBLOCK and SOCK_CLOEXEC (a GNU extension glibc declares only under
/// _GNU_SOURCE): a new non-blocking, close-on-exec descriptor for the next connection, or -1.
int cproxy_accept_nonblocking(int listener);

/// Gives the heap's free pages back to the system (glibc's malloc_trim(0), declared in a
/// header Swift's Glibc module leaves out). Returns 1 when memory was released.
int cproxy_release_free_memory(void);

#endif
